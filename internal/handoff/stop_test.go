package handoff

import (
	"bytes"
	"context"
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
	ctx, cancel := context.WithCancel(context.Background())
	sw := &Sweeper{Target: l, Log: testLog(&log), Stop: ctx}
	c := newClaim(t, testMessage)
	done := background(func() error { return sw.Sweep(ctx, c, dests("mylist")) })
	select {
	case <-s.dot:
	case err := <-done:
		t.Fatalf("Sweep ended before the server had the message: %v", err)
	}
	cancel()
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
	ctx, cancel := context.WithCancel(context.Background())
	sw := &Sweeper{Target: cmd, Log: testLog(&log), Stop: ctx}
	done := background(func() error { return sw.Sweep(ctx, c, []Dest{post}) })
	var pid int
	testkit.Poll(t, 30*time.Second, "the command starts", func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return pid > 0
	})
	cancel()
	err := stopped(t, done, 30*time.Second)
	if !errors.Is(err, ErrStopped) {
		t.Errorf("Sweep: %v, want ErrStopped", err)
	}
	testkit.Poll(t, 10*time.Second, "the command's child is killed", func() bool { return !testkit.Alive(pid) })
	if !present(c.Path) {
		t.Error("claim gone; a stop must keep it")
	}
}

// A stop before the connection is up: the connect does not hold it.
func TestLMTPStopWhileServerSilent(t *testing.T) {
	s := startRaw(t, "tcp", "127.0.0.1:0", "silent")
	var log bytes.Buffer
	l := &LMTP{Address: s.addr, Log: testLog(&log)}
	ctx, cancel := context.WithCancel(context.Background())
	sw := &Sweeper{Target: l, Log: testLog(&log), Stop: ctx}
	c := newClaim(t, testMessage)
	done := background(func() error { return sw.Sweep(ctx, c, dests("mylist")) })
	testkit.Poll(t, 30*time.Second, "the server accepts", func() bool { return s.accepted() > 0 })
	cancel()
	err := stopped(t, done, 20*time.Second)
	if !errors.Is(err, ErrStopped) || !present(c.Path) {
		t.Errorf("Sweep: %v, claim kept: %v", err, present(c.Path))
	}
}

// A command killed by a signal is a temporary failure at once, run only
// once: the Sweeper's retries take it from there. (mdsweep's commands
// are in process groups of their own, and a stop signals each stage, not
// a group: a signal that kills a command was meant for it.)
func TestCommandKilledBySignal(t *testing.T) {
	claim := newClaim(t, testMessage)
	runs := filepath.Join(t.TempDir(), "runs")
	t.Setenv("RUNS", runs)
	var log bytes.Buffer
	cmd := &Command{Command: `echo >>"$RUNS"; kill -TERM $$`, Timeout: time.Hour, Log: testLog(&log)}
	if err := cmd.HandOff(context.Background(), claim, []Dest{post}); err == nil || !fault.IsTemporary(err) {
		t.Errorf("HandOff: %v, want a temporary error", err)
	}
	if n := strings.Count(testkit.ReadFile(t, runs), "\n"); n != 1 {
		t.Errorf("the command ran %d times, want 1", n)
	}
	if !present(claim.Path) {
		t.Error("claim gone; a failed hand-off must keep it")
	}
}
