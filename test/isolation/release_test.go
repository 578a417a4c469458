package isolation

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"mdpipe/internal/testkit"
)

// A stuck claim is released now by mdq -R, but never one a live process holds.
func TestReleaseStuckClaim(t *testing.T) {
	s := newSite(t)
	release := filepath.Join(s.root, "release")
	if err := syscall.Mkfifo(release, 0o600); err != nil {
		t.Fatal(err)
	}
	// The command says it began, then waits for the test: meanwhile
	// mdsweep holds the claim's lock for the hand-off.
	command := `: >"$ISO_LOGS/started"; cat >/dev/null; read x <"$ISO_RELEASE"; echo "$RECIPIENT" >>"$ISO_LOGS/b"`
	held := filepath.Join(s.intake, "cur", msgName(0)+":1,P")
	s.deliverFor(0, "b")
	p := startPipeline(t, nil, s.env("ISO_RELEASE="+release), [][]string{
		{"mdclaim", "-f", s.intake},
		{"mdroute"},
		{"mdsweep", "-c", command},
		{"mdfail"},
	}...)
	testkit.Poll(t, stopWithin, "the hand-off to begin", func() bool {
		_, err := os.Stat(filepath.Join(s.logs, "started"))
		return err == nil
	})
	status, stdout, stderr := mdq(t, "-R", "-s", "0s", held)
	if status != 111 || stdout != "" || !strings.Contains(stderr, held) || !strings.Contains(stderr, "live process") {
		t.Errorf("mdq -R of a claim a hand-off holds exited %d, printed %q, said %q; want 111, nothing, a line naming it held", status, stdout, stderr)
	}
	if at := s.inIntake(msgName(0)); len(at) != 1 || at[0] != filepath.Join("cur", msgName(0)+":1,P") {
		t.Errorf("the held claim is at %v, want it left claimed", at)
	}
	// Let the hand-off finish: it was not disturbed.
	f, err := os.OpenFile(release, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("go\n")
	f.Close()
	testkit.Poll(t, stopWithin, "the held message to be handed off", func() bool { return s.count("b") == 1 })
	p.signalGroup(syscall.SIGTERM)
	p.wait(stopWithin)

	// A claim nobody holds (its pipeline died) goes back to new/ at once.
	s.deliverFor(1, "b")
	stuck := filepath.Join(s.intake, "cur", msgName(1)+":1,P")
	if err := os.Rename(filepath.Join(s.intake, "new", msgName(1)), stuck); err != nil {
		t.Fatal(err)
	}
	back := filepath.Join(s.intake, "new", msgName(1))
	status, stdout, stderr = mdq(t, "-R", "-s", "0s", stuck)
	if status != 0 || stdout != back+"\n" {
		t.Errorf("mdq -R of a stuck claim exited %d, printed %q, said %q; want 0 and %s", status, stdout, stderr, back)
	}
	if at := s.inIntake(msgName(1)); len(at) != 1 || at[0] != filepath.Join("new", msgName(1)) {
		t.Errorf("the stuck claim is at %v, want it back in new/", at)
	}
}

// mdq runs the built mdq with args, and returns its exit status, output
// and log.
func mdq(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(bin, "mdq"), args...)
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}
