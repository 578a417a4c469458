package watch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// generous bounds a wake-up: far below the hour-long timeouts used here,
// far above any scheduling delay on a loaded machine.
const generous = 10 * time.Second

// newMaildir makes tmp/ and new/ the way an MTA uses them.
func newMaildir(t *testing.T) (tmp, dir string) {
	t.Helper()
	md := t.TempDir()
	tmp, dir = filepath.Join(md, "tmp"), filepath.Join(md, "new")
	for _, d := range []string{tmp, dir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return tmp, dir
}

// deliver writes a message into tmp/ and renames it into new/, as an MTA does.
func deliver(t *testing.T, tmp, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(tmp, name), []byte("Subject: x\n\n"), 0o600); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(filepath.Join(tmp, name), filepath.Join(dir, name)); err != nil {
		t.Error(err)
	}
}

func newWatcher(t *testing.T, dir string) *Watcher {
	t.Helper()
	w, err := New(dir)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { w.Close() })
	if w.Polling() {
		t.Fatal("inotify watcher is polling")
	}
	return w
}

// timedWait runs w.Wait with no stop and returns how long it blocked and
// whether it found the downstream gone.
func timedWait(w *Watcher, timeout time.Duration, downstream int) (took time.Duration, gone bool) {
	start := time.Now()
	gone = w.Wait(context.Background(), timeout, downstream)
	return time.Since(start), gone
}

// checkNoWake checks that w has nothing to wake it: a Wait of 200ms
// sleeps all of it but a margin for a coarse timer. why says what an
// early wake-up would mean.
func checkNoWake(t *testing.T, w *Watcher, why string) {
	t.Helper()
	if took, _ := timedWait(w, 200*time.Millisecond, -1); took < 150*time.Millisecond {
		t.Errorf("Wait(200ms) returned after %v: %s", took, why)
	}
}

// TestWaitWakesOnRename: a delivery while Wait blocks with an hour's
// timeout wakes it at once (only inotify can be in time).
func TestWaitWakesOnRename(t *testing.T) {
	tmp, dir := newMaildir(t)
	w := newWatcher(t, dir)
	// Deliver once Wait had the chance to block; a delivery before it
	// blocks must wake it too, so the delay only makes the case likelier.
	timer := time.AfterFunc(100*time.Millisecond, func() { deliver(t, tmp, dir, "1.a") })
	defer timer.Stop()
	took, gone := timedWait(w, time.Hour, -1)
	if gone {
		t.Error("Wait reported the downstream gone without a pipe")
	}
	if took > generous {
		t.Errorf("Wait returned after %v, want well within %v of the delivery", took, generous)
	}
	if _, err := os.Stat(filepath.Join(dir, "1.a")); err != nil {
		t.Errorf("Wait returned before the delivery: %v", err)
	}
}

// TestWaitWakesOnEarlierDelivery: a delivery between the watch and the
// Wait (during the caller's scan) is not missed.
func TestWaitWakesOnEarlierDelivery(t *testing.T) {
	for _, how := range []string{"rename", "link"} {
		t.Run(how, func(t *testing.T) {
			tmp, dir := newMaildir(t)
			w := newWatcher(t, dir)
			if how == "rename" {
				deliver(t, tmp, dir, "1.a")
			} else {
				// qmail and some MTAs link() into new/: IN_CREATE.
				if err := os.WriteFile(filepath.Join(tmp, "1.a"), nil, 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.Link(filepath.Join(tmp, "1.a"), filepath.Join(dir, "1.a")); err != nil {
					t.Fatal(err)
				}
			}
			if took, _ := timedWait(w, time.Hour, -1); took > generous {
				t.Errorf("Wait took %v after an earlier delivery", took)
			}
			// The event was drained: the next Wait sleeps its full timeout.
			checkNoWake(t, w, "the event was not drained")
		})
	}
}

// TestWaitTimeout: with nothing delivered, Wait returns after its timeout
// (the safety rescan), not before, not much later.
func TestWaitTimeout(t *testing.T) {
	_, dir := newMaildir(t)
	w := newWatcher(t, dir)
	if took, _ := timedWait(w, 300*time.Millisecond, -1); took < 250*time.Millisecond || took > generous {
		t.Errorf("Wait(300ms) took %v", took)
	}
}

// TestWaitIgnoresTmp: a write into tmp/ (the MTA still writing) is
// no delivery.
func TestWaitIgnoresTmp(t *testing.T) {
	tmp, dir := newMaildir(t)
	w := newWatcher(t, dir)
	if err := os.WriteFile(filepath.Join(tmp, "1.a"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	checkNoWake(t, w, "it woke for a file in tmp/")
}

// TestWaitDownstreamGone: a pipe to the next tool that lost its reader
// ends the wait at once and says so.
func TestWaitDownstreamGone(t *testing.T) {
	_, dir := newMaildir(t)
	w := newWatcher(t, dir)
	r, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	if gone := w.Wait(context.Background(), 50*time.Millisecond, int(pw.Fd())); gone {
		t.Error("Wait said downstream gone while the reader is open")
	}
	r.Close()
	took, gone := timedWait(w, time.Hour, int(pw.Fd()))
	if !gone {
		t.Error("Wait did not notice the reader closed")
	}
	if took > generous {
		t.Errorf("Wait took %v to notice", took)
	}
}

// TestWaitPolling: without inotify (here: no such directory to watch),
// the watcher polls at least every PollInterval whatever the timeout.
func TestWaitPolling(t *testing.T) {
	w, err := New(filepath.Join(t.TempDir(), "nosuch"))
	if err == nil {
		t.Fatal("New(missing dir) = nil error")
	}
	defer w.Close()
	if !w.Polling() {
		t.Fatal("not polling after New failed")
	}
	if took, _ := timedWait(w, time.Hour, -1); took < PollInterval/2 || took > PollInterval+generous {
		t.Errorf("polling Wait(1h) took %v, want about %v", took, PollInterval)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close of a polling watcher: %v", err)
	}
}

// A stop (ctx cancelled) ends the waits at once, whether they watch
// through inotify or poll: the wait for mail, and the wait at the bound.
func TestWaitEndsAtStop(t *testing.T) {
	_, dir := newMaildir(t)
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	// The inotify wait is stopped while it blocks; the polling one finds
	// the stop made already.
	for _, w := range []*Watcher{newWatcher(t, dir), {fd: -1}} {
		start := time.Now()
		w.Wait(ctx, time.Hour, -1)
		if took := time.Since(start); took > generous || ctx.Err() == nil {
			t.Errorf("polling %v: Wait returned after %v, stopped %v; want the stop within %v", w.Polling(), took, ctx.Err(), generous)
		}
	}
	h, err := NewHeld(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	h.Add("a:1,P") // held, and never leaves
	ctx, cancel = context.WithCancel(context.Background())
	timer = time.AfterFunc(100*time.Millisecond, cancel)
	defer timer.Stop()
	start := time.Now()
	if h.Wait(ctx, 0, time.Hour, -1) {
		t.Error("Held.Wait: downstream gone, with no downstream")
	}
	if took := time.Since(start); took > generous {
		t.Errorf("Held.Wait returned after %v at a stop", took)
	}
}
