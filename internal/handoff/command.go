package handoff

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/route"
)

// Command hands a message off by running a command through /bin/sh, once
// per destination, with the message on stdin and the route in the
// environment, qmail-local style. Exit 0 is delivered; 100 and the
// sysexits qmail treats as permanent are permanent; anything else,
// including a kill after Timeout, is temporary.
//
// At-least-once: a crash after the command succeeded and before the claim
// was dropped runs the command again for that message.
type Command struct {
	Command string
	Timeout time.Duration
	Delims  string // extension delimiters for DETAIL; "+" if empty
	Log     *cli.Log
	Sync    fsx.DirSync

	hr route.HeaderReader
	// done remembers, across the retries of one message, which of its
	// destinations took it already, so a retry does not run them again.
	donePath string
	done     []bool
}

// permanentExits are qmail-local's permanent exit codes: 100, and the
// sysexits 64 (usage), 65 (data), 70 (software), 76 (protocol), 77
// (no permission), 78 (config), plus 112.
var permanentExits = map[int]bool{100: true, 64: true, 65: true, 70: true, 76: true, 77: true, 78: true, 112: true}

// HandOff implements Target.
func (t *Command) HandOff(c intake.Claim, dests []Dest) error {
	m, err := lockMessage(c, &t.hr)
	if m == nil {
		return err
	}
	if t.donePath != c.Path || len(t.done) != len(dests) {
		t.donePath, t.done = c.Path, make([]bool, len(dests))
	}
	var perm, temp error
	delivered := 0
	for i, d := range dests {
		if t.done[i] {
			delivered++
			continue
		}
		err := t.run(m, d)
		switch {
		case err == nil:
			t.done[i] = true
			delivered++
		case IsTemporary(err):
			temp = err
		default:
			perm = err
		}
	}
	if temp != nil {
		m.file.Close()
		return temp
	}
	if perm != nil && delivered == 0 {
		m.file.Close()
		return perm
	}
	if perm != nil {
		// Parking it would deliver the others twice on a retry.
		t.Log.Path("delivered to some destinations only; not parked", c.Path, perm)
	}
	t.donePath, t.done = "", nil
	return m.done(&t.Sync)
}

func (t *Command) run(m *locked, d Dest) error {
	body, err := m.body()
	if err != nil {
		return Temporary(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", t.Command)
	local, host, ext := detail(d.Recipient, t.Delims)
	cmd.Env = append(os.Environ(),
		"LIST="+d.List, "SUBQUEUE="+d.Subqueue, "RECIPIENT="+d.Recipient,
		"LOCAL="+local, "HOST="+host, "DETAIL="+ext,
		"SENDER="+m.sender, "MESSAGE="+m.claim.Path)
	cmd.Stdin = body
	// Its own process group, so a timeout kills what the shell started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var wg sync.WaitGroup
	prefix := "command '" + m.claim.Path + "':"
	for _, w := range []*io.Writer{&cmd.Stdout, &cmd.Stderr} {
		r, pw, err := os.Pipe()
		if err != nil {
			return Temporary(err)
		}
		*w = pw
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer r.Close()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 4096), 64<<10)
			for sc.Scan() {
				t.Log.Printf("%s %s", prefix, sc.Text())
			}
		}()
		defer pw.Close()
	}
	err = cmd.Start()
	// Our copies of the write ends close now, so the readers see EOF when
	// the command (and whatever it left running) is done.
	cmd.Stdout.(*os.File).Close()
	cmd.Stderr.(*os.File).Close()
	if err != nil {
		wg.Wait()
		return Temporary(err)
	}
	err = cmd.Wait()
	wg.Wait()
	if ctx.Err() == context.DeadlineExceeded {
		return Temporary(fmt.Errorf("command killed after %v", t.Timeout))
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if permanentExits[code] {
			return Permanent(fmt.Errorf("command exited %d", code))
		}
		if code < 0 {
			return Temporary(fmt.Errorf("command %v", ee.ProcessState))
		}
		return Temporary(fmt.Errorf("command exited %d", code))
	}
	if err != nil {
		return Temporary(err)
	}
	return nil
}

// Commit implements Target.
func (t *Command) Commit() error {
	if err := t.Sync.Commit(); err != nil {
		return Temporary(err)
	}
	return nil
}

// Close implements Target.
func (t *Command) Close() error { return t.Commit() }
