package handoff

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/fault"
	"mdpipe/internal/testkit"
)

// background runs f and returns its result on a channel.
func background(f func() error) <-chan error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return done
}

// stopped waits up to d for the Sweep of done to return after a stop,
// and returns its error.
func stopped(t *testing.T, done <-chan error, d time.Duration) error {
	t.Helper()
	var err error
	testkit.Poll(t, d, "Sweep returns after the stop", func() bool {
		select {
		case err = <-done:
			return true
		default:
			return false
		}
	})
	return err
}

// A stop abandons an LMTP hand-off whose server took the message and
// never answers: the message stays claimed, and Sweep returns well
// within the 5-minute reply timeout.
func TestLMTPStopAbandonsHandOff(t *testing.T) {
	s := startRaw(t, "tcp", "127.0.0.1:0", "hang")
	var log bytes.Buffer
	l := &LMTP{Address: s.addr, Log: testLog(&log)} // default 5-minute timeout
	defer l.Close()
	stop := make(chan struct{})
	sw := &Sweeper{Target: l, Log: testLog(&log), Stop: stop}
	c := newClaim(t, testMessage)
	done := background(func() error { return sw.Sweep(c, dests("mylist")) })
	select {
	case <-s.dot:
	case err := <-done:
		t.Fatalf("Sweep ended before the server had the message: %v", err)
	}
	close(stop)
	err := stopped(t, done, 30*time.Second)
	if !errors.Is(err, ErrStopped) {
		t.Errorf("Sweep: %v, want ErrStopped", err)
	}
	if !present(c.Path) {
		t.Error("claim gone; a stop must keep it")
	}
	if !strings.Contains(log.String(), "stopping; left claimed") {
		t.Errorf("log: %s", log.String())
	}
	if err := l.Close(); err != nil {
		t.Errorf("Close after an abandon: %v", err)
	}
}

// A stop kills a command in hand with its process group, and keeps the
// claim.
func TestCommandStopKillsCommand(t *testing.T) {
	c := newClaim(t, testMessage)
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("PIDFILE", pidFile)
	var log bytes.Buffer
	cmd := &Command{Command: `sleep 300 & echo $! >"$PIDFILE"; wait`, Timeout: time.Hour, Log: testLog(&log)}
	stop := make(chan struct{})
	sw := &Sweeper{Target: cmd, Log: testLog(&log), Stop: stop}
	done := background(func() error { return sw.Sweep(c, []Dest{post}) })
	var pid int
	testkit.Poll(t, 30*time.Second, "the command starts", func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	close(stop)
	err := stopped(t, done, 30*time.Second)
	if !errors.Is(err, ErrStopped) {
		t.Errorf("Sweep: %v, want ErrStopped", err)
	}
	testkit.Poll(t, 10*time.Second, "the command's child is killed", func() bool { return !alive(pid) })
	if !present(c.Path) {
		t.Error("claim gone; a stop must keep it")
	}
}

// A stop before the connection is up: the connect does not hold it.
func TestLMTPStopWhileServerSilent(t *testing.T) {
	s := startRaw(t, "tcp", "127.0.0.1:0", "silent")
	var log bytes.Buffer
	l := &LMTP{Address: s.addr, Log: testLog(&log)}
	stop := make(chan struct{})
	sw := &Sweeper{Target: l, Log: testLog(&log), Stop: stop}
	c := newClaim(t, testMessage)
	done := background(func() error { return sw.Sweep(c, dests("mylist")) })
	testkit.Poll(t, 30*time.Second, "the server accepts", func() bool { return s.accepted() > 0 })
	close(stop)
	err := stopped(t, done, 20*time.Second)
	if !errors.Is(err, ErrStopped) || !present(c.Path) {
		t.Errorf("Sweep: %v, claim kept: %v", err, present(c.Path))
	}
}

// A command that dies of SIGTERM or SIGINT while a stop is under way got
// the stop's signal to mdsweep's process group before it could leave it:
// it is run again, once. Here the command sends itself the signal, as
// the group signal reaches a command just forked.
func TestCommandRerunAfterStopSignal(t *testing.T) {
	for _, c := range []struct {
		name   string
		script string // $RUNS counts the runs
		runs   int
		ok     bool
	}{
		{"first run killed", `echo >>"$RUNS"; [ "$(wc -l <"$RUNS")" -gt 1 ] || kill -TERM $$; cat >/dev/null`, 2, true},
		{"every run killed", `echo >>"$RUNS"; kill -INT $$`, 2, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			claim := newClaim(t, testMessage)
			runs := filepath.Join(t.TempDir(), "runs")
			t.Setenv("RUNS", runs)
			var log bytes.Buffer
			cmd := &Command{Command: c.script, Timeout: time.Hour, Log: testLog(&log)}
			stop := make(chan struct{})
			close(stop) // a stop under way
			cmd.SetStop(stop)
			err := cmd.HandOff(claim, []Dest{post})
			if (err == nil) != c.ok || (err != nil && !fault.IsTemporary(err)) {
				t.Errorf("HandOff: %v, want ok %v, or a temporary error", err, c.ok)
			}
			if n := strings.Count(testkit.ReadFile(t, runs), "\n"); n != c.runs {
				t.Errorf("the command ran %d times, want %d", n, c.runs)
			}
			if present(claim.Path) == c.ok {
				t.Errorf("claim there: %v, want %v", present(claim.Path), !c.ok)
			}
		})
	}
	// Without a stop, a command killed so is a temporary failure at once:
	// the Sweeper's retries take it from there.
	claim := newClaim(t, testMessage)
	runs := filepath.Join(t.TempDir(), "runs")
	t.Setenv("RUNS", runs)
	var log bytes.Buffer
	cmd := &Command{Command: `echo >>"$RUNS"; kill -TERM $$`, Timeout: time.Hour, Log: testLog(&log)}
	cmd.SetStop(make(chan struct{}))
	if err := cmd.HandOff(claim, []Dest{post}); err == nil || !fault.IsTemporary(err) {
		t.Errorf("HandOff without a stop: %v, want a temporary error", err)
	}
	if n := strings.Count(testkit.ReadFile(t, runs), "\n"); n != 1 {
		t.Errorf("without a stop, the command ran %d times, want 1", n)
	}
}
