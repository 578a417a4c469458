package stage

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/cli"
)

// done waits up to d for ctx to be done, and reports whether it is.
func done(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return true
	case <-t.C:
		return false
	}
}

// The first signal drains, the second winds down at once, and the stop
// is over WindDown later; a third signal changes nothing.
func TestStopLadderBySignals(t *testing.T) {
	s := newStop(time.Hour, 50*time.Millisecond)
	go s.ladder()
	if s.Stopping() || s.Draining().Err() != nil {
		t.Fatal("stopping before any signal")
	}
	s.Signal()
	if !done(s.Draining(), 10*time.Second) {
		t.Fatal("the first signal did not start the drain")
	}
	if s.WindingDown().Err() != nil {
		t.Fatal("the first signal wound down: the grace is an hour")
	}
	if !s.Stopping() {
		t.Error("Stopping false during the drain")
	}
	start := time.Now()
	s.Signal()
	if !done(s.WindingDown(), 10*time.Second) {
		t.Fatal("the second signal did not start the wind-down")
	}
	s.Signal() // ignored: must neither block nor end anything early
	if !done(s.Over(), 10*time.Second) {
		t.Fatal("the wind-down never ended")
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("the stop was over %v after the wind-down began, want at least its 50ms", d)
	}
}

// Without a second signal, the wind-down begins when the grace has
// passed.
func TestStopGracePasses(t *testing.T) {
	s := newStop(100*time.Millisecond, 10*time.Millisecond)
	go s.ladder()
	start := time.Now()
	s.Signal()
	if !done(s.WindingDown(), 10*time.Second) {
		t.Fatal("the grace passed without a wind-down")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("wound down after %v, before the grace of 100ms", d)
	}
	if !done(s.Over(), 10*time.Second) {
		t.Fatal("the wind-down never ended")
	}
}

// A real SIGTERM to the process starts the drain, and does not kill it.
func TestStopListensForSIGTERM(t *testing.T) {
	s := Listen(time.Hour)
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if !done(s.Draining(), 10*time.Second) {
		t.Fatal("SIGTERM did not start the drain")
	}
	if s.WindingDown().Err() != nil {
		t.Error("one SIGTERM wound down: the grace is an hour")
	}
}

// What was noted before a stop does not make its status: a stop is no
// failure. What is noted after it does.
func TestStopStatus(t *testing.T) {
	s := &Stage{Log: cli.NewLog("test"), Stop: newStop(time.Hour, time.Hour)}
	go s.Stop.ladder()
	s.Note(cli.Perm)
	if s.Status() != cli.Perm {
		t.Fatalf("status %d before the stop, want %d", s.Status(), cli.Perm)
	}
	s.Stop.Signal()
	done(s.Stop.Draining(), 10*time.Second)
	if s.Status() != cli.OK {
		t.Errorf("status %d once stopping, want 0", s.Status())
	}
	s.Note(cli.Temp)
	if s.Status() != cli.Temp {
		t.Errorf("status %d after a failure during the stop, want %d", s.Status(), cli.Temp)
	}
}

// A next stage gone while a stop is under way is no failure; without a
// stop, it is one once the stop's signal has had time to come.
func TestStopPendingDownstreamGone(t *testing.T) {
	s := &Stage{Log: cli.NewLog("test"), Stop: newStop(time.Hour, time.Hour)}
	go s.Stop.ladder()
	if s.StopPending(cli.ErrDownstreamGone) {
		t.Error("next stage gone without a stop: reported as a stop")
	}
	go s.Stop.Signal()
	if !s.StopPending(cli.ErrDownstreamGone) {
		t.Error("next stage gone as the stop's signal comes: not a stop")
	}
}

func TestGrace(t *testing.T) {
	for _, c := range []struct {
		env  string
		want time.Duration
		ok   bool
	}{
		{"", DefaultGrace, true},
		{"1s", time.Second, true},
		{"0s", 0, true},
		{"-1s", 0, false},
		{"5", 0, false},
	} {
		t.Setenv("MDPIPE_GRACE", c.env)
		got, err := Grace()
		if (err == nil) != c.ok || (c.ok && got != c.want) {
			t.Errorf("MDPIPE_GRACE=%q: %v, %v; want %v, ok %v", c.env, got, err, c.want, c.ok)
		}
	}
}
