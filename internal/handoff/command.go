package handoff

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"mdpipe/internal/envelope"
	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/logline"
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
	Log     *logline.Log
	Sync    fsx.DirSync

	hr   envelope.HeaderReader
	done outcome
}

// permanentExits are qmail-local's permanent exit codes: 100, and the
// sysexits 64 (usage), 65 (data error), 70 (software), 76 (protocol), 77
// (no permission), 78 (configuration), and 112.
var permanentExits = map[int]bool{64: true, 65: true, 70: true, 76: true, 77: true, 78: true, 100: true, 112: true}

// HandOff implements Target. Once ctx is cancelled, the command running
// is killed with its process group, those not yet run are not started,
// and the message stays claimed.
func (t *Command) HandOff(ctx context.Context, c intake.Claim, dests []Dest) error {
	m, err := lockMessage(c, &t.hr)
	if m == nil {
		return err
	}
	defer m.file.Close()
	t.done.start(c.Path)
	var temp error
	for _, d := range t.done.pending(dests) {
		if ctx.Err() != nil {
			return fault.Temporary(errStopping)
		}
		err := t.run(ctx, m, d)
		if err != nil && fault.IsTemporary(err) {
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
func (t *Command) run(stopCtx context.Context, m *locked, d Dest) error {
	// LIST and SUBQUEUE reach scripts that may make paths of them
	// (mdpipe(7), RULES: nothing outside QUEUE).
	if err := safename.List(d.List); err != nil {
		return fault.Permanent(err)
	}
	if err := safename.Name(d.Subqueue); err != nil {
		return fault.Permanent(fmt.Errorf("subqueue: %v", err))
	}
	// RECIPIENT, LOCAL, HOST, EXT, DEFAULT and DETAIL too: no "/", no
	// "..", no control character.
	if err := envelope.CheckRecipient(d.Recipient); err != nil {
		return fault.Permanent(err)
	}
	if err := m.rewind(); err != nil {
		return fault.Temporary(err)
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	// A cancelled stopCtx kills the command's process group, as the
	// timeout does.
	ctx, cancel := context.WithTimeout(stopCtx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", t.Command)
	cmd.Env = commandEnv(os.Environ(), d, m.sender, m.claim.Path, t.Delims)
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
	case stopCtx.Err() != nil:
		return fault.Temporary(fmt.Errorf("command killed: %v", errStopping))
	case ctx.Err() == context.DeadlineExceeded:
		return fault.Temporary(fmt.Errorf("command killed after %v", timeout))
	case st == nil:
		return fault.Temporary(fmt.Errorf("command: %v", err))
	case permanentExits[st.ExitCode()]:
		return fault.Permanent(exited(st.ExitCode(), stdout, stderr))
	case st.ExitCode() < 0:
		return fault.Temporary(fmt.Errorf("command %v", st))
	}
	return fault.Temporary(exited(st.ExitCode(), stdout, stderr))
}

// Commit implements Target.
func (t *Command) Commit() error {
	if err := t.Sync.Commit(); err != nil {
		return fault.Temporary(err)
	}
	return nil
}

// Close implements Target.
func (t *Command) Close() error { return t.Commit() }

// commandEnv returns env with the variables of a hand-off to d added:
// mdpipe's own (LIST, SUBQUEUE, DETAIL, MESSAGE), qmail-local's (SENDER,
// RECIPIENT, LOCAL, HOST, EXT, EXT2..EXT4, DEFAULT, DTLINE, RPLINE) and
// Postfix's ORIGINAL_RECIPIENT, so that a .qmail delivery program runs
// unchanged. They behave as qmail-local does for a user whose .qmail files
// are .qmail-LIST and .qmail-LIST-default: EXT is the whole local part,
// DEFAULT what follows "LIST-" (unset for the list's own address).
// Every value comes from the validated route and sender.
func commandEnv(env []string, d Dest, sender, path, delims string) []string {
	local, host, detail := splitRecipient(d.Recipient, delims)
	ext2 := afterDash(local)
	ext3 := afterDash(ext2)
	ext4 := afterDash(ext3)
	out := make([]string, 0, len(env)+20)
	for _, kv := range env {
		// A DEFAULT inherited from mdsweep's own environment must not
		// reach the list's own address, where qmail-local sets none.
		if !strings.HasPrefix(kv, "DEFAULT=") {
			out = append(out, kv)
		}
	}
	out = append(out, // exec lets the last of a name win
		"LIST="+d.List, "SUBQUEUE="+d.Subqueue, "RECIPIENT="+d.Recipient,
		"DETAIL="+detail, "SENDER="+sender, "MESSAGE="+path,
		"LOCAL="+local, "HOST="+host,
		"EXT="+local, "EXT2="+ext2, "EXT3="+ext3, "EXT4="+ext4,
		"DTLINE=Delivered-To: "+d.Recipient+"\n",
		"RPLINE=Return-Path: <"+sender+">\n",
		"UFLINE="+ufline(sender, time.Now()),
		"HOST2="+beforeDot(host, 1), "HOST3="+beforeDot(host, 2), "HOST4="+beforeDot(host, 3),
		"ORIGINAL_RECIPIENT="+d.Recipient)
	if def, ok := defaultPart(local, d.List); ok {
		out = append(out, "DEFAULT="+def)
	}
	return out
}

// afterDash returns what follows the first '-' of s, "" if none: how
// qmail-local makes EXT2 of EXT, EXT3 of EXT2 and EXT4 of EXT3.
func afterDash(s string) string {
	if i := strings.IndexByte(s, '-'); i >= 0 {
		return s[i+1:]
	}
	return ""
}

// beforeDot returns host without its last n dot-separated labels, as
// qmail-local makes HOST2 (n=1), HOST3 and HOST4: with fewer dots, what
// is left when they run out.
func beforeDot(host string, n int) string {
	for ; n > 0; n-- {
		if i := strings.LastIndexByte(host, '.'); i >= 0 {
			host = host[:i]
		}
	}
	return host
}

// ufline is qmail-local's UFLINE, the mbox "From " line preline(1) puts
// first: the sender (MAILER-DAEMON for <>) and the time in UTC.
func ufline(sender string, now time.Time) string {
	if sender == "" {
		sender = "MAILER-DAEMON"
	}
	return "From " + sender + " " + now.UTC().Format("Mon Jan _2 15:04:05 2006") + "\n"
}

// defaultPart returns what follows the list's name and the one byte after
// it (a '-', or an extension delimiter) in local: qmail-local's DEFAULT
// for .qmail-LIST-default. There is none for the list's own address.
func defaultPart(local, list string) (string, bool) {
	name, _, _ := strings.Cut(list, "@")
	if len(local) <= len(name)+1 || !strings.HasPrefix(local, name) {
		return "", false
	}
	return local[len(name)+1:], true
}

// lineLog passes what a command writes to the log, a line at a time, each
// prefixed. A line longer than maxLine is cut.
type lineLog struct {
	log    *logline.Log
	prefix string
	buf    []byte
	last   string // the last line that was not blank: what a failure says
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
		l.line(l.buf[:i])
		if i < len(l.buf) && l.buf[i] == '\n' {
			i++
		}
		l.buf = l.buf[:copy(l.buf, l.buf[i:])]
	}
}

// flush logs a last line that had no newline.
func (l *lineLog) flush() {
	if len(l.buf) > 0 {
		l.line(l.buf)
		l.buf = l.buf[:0]
	}
}

func (l *lineLog) line(b []byte) {
	l.log.Printf("%s%s", l.prefix, b)
	if t := bytes.TrimSpace(b); len(t) > 0 {
		l.last = string(t)
	}
}

// exited says how a command that failed exited, with the last line it
// wrote (on stderr, else on stdout), which says why far better than the
// status alone: the reason kept with a parked message is this.
func exited(code int, stdout, stderr *lineLog) error {
	why := stderr.last
	if why == "" {
		why = stdout.last
	}
	if why == "" {
		return fmt.Errorf("command exited %d", code)
	}
	return fmt.Errorf("command exited %d: %s", code, why)
}
