package isolation

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// nobody is the unprivileged uid and gid the pipeline runs as: it exists
// on every system, and the test creates no user.
const nobody = 65534

// Unreadable entries of new/ cost only themselves: parked or skipped with a line, never held as claims.
func TestUnreadable(t *testing.T) {
	testkit.NeedRoot(t, "to make files of another owner that the pipeline, run as nobody, cannot read")
	// Mode 000 and another owner, sorting first and as many as the
	// claim bound: the 10 good messages behind them are handed off
	// within 20 s all the same.
	s := newSite(t)
	// t.TempDir's directories are 0700: nobody must reach the intake.
	for _, d := range []string{filepath.Dir(s.root), s.root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	const bad, good = 4, 10
	for i := range bad + good {
		s.deliverFor(i, "b")
	}
	testkit.ChownTree(t, s.intake, nobody, nobody)
	testkit.ChownTree(t, s.logs, nobody, nobody)
	// The unreadable ones are root's, mode 000.
	for i := range bad {
		p := filepath.Join(s.intake, "new", msgName(i))
		if err := os.Chown(p, 0, 0); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	cred := &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
	p := startPipeline(t, cred, s.env(), s.standard("4")...)

	// badClaimed lists the unreadable entries still held as claims.
	badClaimed := func() []string {
		var held []string
		for i := range bad {
			if _, err := os.Lstat(filepath.Join(s.intake, "cur", msgName(i)+":1,P")); err == nil {
				held = append(held, msgName(i))
			}
		}
		return held
	}
	start := time.Now()
	testkit.Until(20*time.Second, func() bool { return s.count("b") >= good && len(badClaimed()) == 0 })
	if n := s.count("b"); n < good {
		t.Errorf("behind %d unreadable entries, %d of the %d good messages were handed off in 20s", bad, n, good)
	} else {
		t.Logf("the %d good messages were handed off in %v", good, time.Since(start).Round(time.Millisecond))
	}
	if held := badClaimed(); len(held) != 0 {
		t.Errorf("after 20s, %d unreadable entries are still held as claims: %v", len(held), held)
	}
	p.signalGroup(syscall.SIGTERM)
	p.wait(stopWithin)
	if n := s.claims(); n != 0 {
		t.Errorf("the stop left %d claims: %v", n, s.claimNames())
	}
	for i := range bad {
		b := msgName(i)
		at := s.inIntake(b)
		if len(at) != 1 || at[0] != filepath.Join("new", b) && at[0] != filepath.Join("cur", b+":1,X") {
			t.Errorf("unreadable entry %s is at %v, want new/%s (skipped) or cur/%s:1,X (parked)", b, at, b, b)
		}
		if lines := p.linesNaming(b); len(lines) != 1 {
			t.Errorf("unreadable entry %s is named by %d log lines, want 1:\n%s", b, len(lines), strings.Join(lines, "\n"))
		}
	}
	for i := bad; i < bad+good; i++ {
		if at := s.inIntake(msgName(i)); len(at) != 0 {
			t.Errorf("good message %d is still in the intake, at %v", i, at)
		}
	}
}

// Recovery never passes over a claim in silence: one it cannot open is returned or named in a line.
func TestRecoveryNamesUnreadableClaim(t *testing.T) {
	testkit.NeedRoot(t, "to make a claim of another owner that mdclaim, run as nobody, cannot open")
	s := newSite(t)
	for _, d := range []string{filepath.Dir(s.root), s.root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A claim a dead pipeline left, root's and mode 000, which mdclaim
	// -r must look at to know whether anyone holds it.
	b := msgName(0)
	s.deliverFor(0, "b")
	testkit.ChownTree(t, s.intake, nobody, nobody)
	claim := filepath.Join(s.intake, "cur", b+":1,P")
	if err := os.Rename(filepath.Join(s.intake, "new", b), claim); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(claim, 0, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(claim, 0); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "mdclaim"), "-r", "1ns", s.intake)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	t.Logf("mdclaim -r 1ns exited %d; printed %q; log:\n%s", cmd.ProcessState.ExitCode(), stdout.String(), stderr.String())
	if !strings.Contains(stderr.String(), b) {
		t.Errorf("mdclaim -r said nothing of the claim %s it could not open, which stays at %v", b, s.inIntake(b))
	}
}
