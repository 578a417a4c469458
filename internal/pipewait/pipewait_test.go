package pipewait

import (
	"context"
	"runtime"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// Many waits on one context share one pipe, a cancel wakes a wait under
// way, and once it is over the pipe is closed.
func TestWakerShared(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	before := testkit.OpenFds(t)
	for range 100 {
		if err := Readable(ctx, -1, -1, time.Microsecond); err != ErrTimeout {
			t.Fatalf("a wait on nothing: %v, want ErrTimeout", err)
		}
	}
	if n := testkit.OpenFds(t); n > before+2 {
		t.Errorf("100 waits left %d descriptors open, want at most one pipe (2)", n-before)
	}
	done := make(chan error)
	go func() { done <- Readable(ctx, -1, -1, -1) }()
	cancel()
	if err := <-done; err != context.Canceled {
		t.Fatalf("wait on a cancelled context: %v", err)
	}
	if err := Readable(ctx, -1, -1, -1); err != context.Canceled {
		t.Fatalf("wait after the cancel: %v", err)
	}
	// The wait above may have seen the cancel before it made a wait of
	// its own; then the pipe is closed by the cancel's own goroutine,
	// which runs at once but not in step with this one.
	deadline := time.Now().Add(10 * time.Second)
	n := testkit.OpenFds(t)
	for n != before && time.Now().Before(deadline) {
		runtime.Gosched()
		n = testkit.OpenFds(t)
	}
	if n != before {
		t.Errorf("%d descriptors open after the cancel, want %d", n, before)
	}
}
