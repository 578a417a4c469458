package handoff

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/route"
	"mdpipe/internal/safename"
)

// Command hands a message off by running a command through /bin/sh, once
// per recipient, with the message on stdin and the route in the
// environment, qmail-local style. Exit 0 is delivered; 100 and the exits
// qmail-local treats as permanent are permanent; anything else, a kill by
// a signal, or a kill after Timeout, is temporary. The claim stays locked
// while the command runs.
//
// At-least-once: a crash, a kill or a lost power after the command exited
// 0 and before the unlink of the claim reached the disk (the next Commit)
// runs the command again for that message; so does a command that
// delivered and then failed, or was killed after Timeout.
type Command struct {
	Command string
	Timeout time.Duration // kill the command's process group after this
	Delims  string        // extension delimiters for DETAIL; "+" if empty
	Log     *cli.Log
	Sync    fsx.DirSync

	hr   route.HeaderReader
	done outcome
}

// permanentExits are qmail-local's permanent exit codes: 100, and the
// sysexits 64 (usage), 65 (data error), 70 (software), 76 (protocol), 77
// (no permission), 78 (configuration), and 112.
var permanentExits = map[int]bool{64: true, 65: true, 70: true, 76: true, 77: true, 78: true, 100: true, 112: true}

// HandOff implements Target.
func (t *Command) HandOff(c intake.Claim, dests []Dest) error {
	m, err := lockMessage(c, &t.hr)
	if m == nil {
		return err
	}
	defer m.file.Close()
	t.done.start(c.Path)
	var temp error
	for _, d := range t.done.pending(dests) {
		err := t.run(m, d)
		if err != nil && IsTemporary(err) {
			temp = err
			continue
		}
		t.done.final[d.Recipient] = err
	}
	if temp != nil {
		return temp
	}
	return t.done.finish(m, t.Log, &t.Sync)
}

// run runs the command for one recipient.
func (t *Command) run(m *locked, d Dest) error {
	// LIST and SUBQUEUE reach scripts that may make paths of them
	// (DESIGN rule 5).
	if err := safename.List(d.List); err != nil {
		return Permanent(err)
	}
	if err := safename.Name(d.Subqueue); err != nil {
		return Permanent(fmt.Errorf("subqueue: %v", err))
	}
	if err := m.rewind(); err != nil {
		return Temporary(err)
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", t.Command)
	local, host, detail := splitRecipient(d.Recipient, t.Delims)
	cmd.Env = append(os.Environ(), // exec lets the last of a name win
		"LIST="+d.List, "SUBQUEUE="+d.Subqueue, "RECIPIENT="+d.Recipient,
		"DETAIL="+detail, "SENDER="+m.sender, "MESSAGE="+m.claim.Path,
		"LOCAL="+local, "HOST="+host)
	// Through a pipe, not the claim's descriptor itself: a process the
	// command leaves behind must not hold the claim's lock.
	cmd.Stdin = struct{ *os.File }{m.file}
	prefix := "command '" + m.claim.Path + "': "
	stdout := &lineLog{log: t.Log, prefix: prefix}
	stderr := &lineLog{log: t.Log, prefix: prefix}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	// Its own process group, so that a timeout kills what the shell
	// started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A process left behind holding stdout does not hold the hand-off.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	stdout.flush()
	stderr.flush()
	st := cmd.ProcessState
	switch {
	case st != nil && st.Success():
		// Delivered, even if ErrWaitDelay says something it left
		// behind still holds its output.
		return nil
	case ctx.Err() == context.DeadlineExceeded:
		return Temporary(fmt.Errorf("command killed after %v", timeout))
	case st == nil:
		return Temporary(fmt.Errorf("command: %v", err))
	case permanentExits[st.ExitCode()]:
		return Permanent(fmt.Errorf("command exited %d", st.ExitCode()))
	case st.ExitCode() < 0:
		return Temporary(fmt.Errorf("command %v", st))
	}
	return Temporary(fmt.Errorf("command exited %d", st.ExitCode()))
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

// lineLog passes what a command writes to the log, a line at a time, each
// prefixed. A line longer than maxLine is cut.
type lineLog struct {
	log    *cli.Log
	prefix string
	buf    []byte
}

const maxLine = 4096

func (l *lineLog) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 && len(l.buf) < maxLine {
			return len(p), nil
		}
		if i < 0 || i > maxLine {
			i = maxLine
		}
		l.log.Printf("%s%s", l.prefix, l.buf[:i])
		if i < len(l.buf) && l.buf[i] == '\n' {
			i++
		}
		l.buf = l.buf[:copy(l.buf, l.buf[i:])]
	}
}

// flush logs a last line that had no newline.
func (l *lineLog) flush() {
	if len(l.buf) > 0 {
		l.log.Printf("%s%s", l.prefix, l.buf)
		l.buf = l.buf[:0]
	}
}
