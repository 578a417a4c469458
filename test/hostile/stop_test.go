package hostile

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/smtpsink"
)

// A stop is bounded (mdpipe(7), RULES: a clean stop): SIGTERM while a hand-off hangs ends
// mdsweep within seconds, leaving the message claimed. Before, an LMTP
// server that took the message and never answered held mdsweep for its
// 5-minute reply timeout (297 s), and a command for its -T (10 minutes).

// stopDeadline is far below the timeouts of the old behaviour, and far
// above the few seconds a stop takes.
const stopDeadline = 30 * time.Second

// sweepAndStop claims and routes the control message into a records file,
// starts mdsweep with args on it, waits for started, sends SIGTERM, and
// returns mdsweep's exit status and log once it exits.
func sweepAndStop(t *testing.T, s *site, started func() bool, args ...string) (int, string) {
	t.Helper()
	records := filepath.Join(t.TempDir(), "records")
	r := s.sh(`mdclaim "$INTAKE" | mdroute >` + records)
	r.wantStatus(t, 0, 0)
	in, err := os.Open(records)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(filepath.Join(bin, "mdsweep"), args...)
	cmd.Stdin = in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	testkit.Poll(t, stopDeadline, "the hand-off to start", started)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var werr error
	if !testkit.Until(stopDeadline, func() bool {
		select {
		case werr = <-done:
			return true
		default:
			return false
		}
	}) {
		cmd.Process.Kill()
		<-done
		t.Fatalf("mdsweep still runs %v after SIGTERM; log:\n%s", stopDeadline, stderr.String())
	}
	status := 0
	if ee, ok := werr.(*exec.ExitError); ok {
		status = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	t.Logf("mdsweep exited %d; log:\n%s", status, stderr.String())
	return status, stderr.String()
}

func TestStopLMTPServerNeverAnswers(t *testing.T) {
	k := smtpsink.StartWith(t, smtpsink.Options{LMTP: true, Hang: true})
	s := newSite(t)
	ok := s.control()
	s.mark()
	status, _ := sweepAndStop(t, s, func() bool {
		select {
		case <-k.Arrived():
			return true
		default:
			return false
		}
	}, "-l", k.Addr())
	if status != 0 {
		t.Errorf("exit %d, want 0: a stop is not a failure", status)
	}
	s.wantAt(ok, "claimed")
}

func TestStopCommandRunsOn(t *testing.T) {
	s := newSite(t)
	ok := s.control()
	pidFile := filepath.Join(t.TempDir(), "pid")
	s.mark()
	var pid int
	status, _ := sweepAndStop(t, s, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	}, "-c", `sleep 300 & echo $! >`+pidFile+`; wait`)
	if status != 0 {
		t.Errorf("exit %d, want 0: a stop is not a failure", status)
	}
	s.wantAt(ok, "claimed")
	if !testkit.Until(10*time.Second, func() bool { return !testkit.Alive(pid) }) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the command's child %d outlived the stop", pid)
	}
}
