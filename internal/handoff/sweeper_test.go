package handoff

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/intake"
	"mdpipe/internal/testkit"
)

// A command that fails for list a while the file $FAIL exists, and
// logs every other hand-off, one line each, in $TOOK.
const failA = `cat >/dev/null; if [ "$LIST" = a ] && [ -e "$FAIL" ]; then exit 111; fi; echo "$LIST" >>"$TOOK"`

func failASetup(t *testing.T) (fail, took string) {
	dir := t.TempDir()
	fail, took = filepath.Join(dir, "fail"), filepath.Join(dir, "took")
	testkit.WriteFile(t, fail, "")
	t.Setenv("FAIL", fail)
	t.Setenv("TOOK", took)
	return fail, took
}

// A message for two lists, one failing: the other takes it, the message
// is deferred with that kept, and its retry (claimed again from D) goes
// only to the failing one, once it works.
func TestSweepDefersPartial(t *testing.T) {
	fail, took := failASetup(t)
	var log bytes.Buffer
	sw := newSweeper(&Command{Command: failA, Timeout: time.Minute, Log: testLog(&log)}, &log)
	c := newClaim(t, testMessage)
	ds := []Dest{{List: "a", Subqueue: "post", Recipient: "a@x.test"}, {List: "b", Subqueue: "post", Recipient: "b@x.test"}}
	if err := sw.Sweep(context.Background(), c, ds); !errors.Is(err, ErrDeferred) {
		t.Fatalf("Sweep: %v, want ErrDeferred", err)
	}
	done, deferred, err := c.ReadDone()
	if err != nil || !deferred || len(done) != 1 || done[0] != ds[1] {
		t.Fatalf("kept as done: %v (%v, %v), want list b's", done, deferred, err)
	}
	os.Remove(fail)
	// A sweeper of a restarted mdsweep: no memory of the failure.
	sw = newSweeper(&Command{Command: failA, Timeout: time.Minute, Log: testLog(&log)}, &log)
	if err := os.Rename(c.DeferPath(), c.Path); err != nil {
		t.Fatal(err)
	}
	if err := sw.Sweep(context.Background(), c, ds); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := testkit.ReadFile(t, took); got != "b\na\n" {
		t.Errorf("hand-offs %q, want b then a, once each", got)
	}
	if present(c.Path) || present(intake.DonePath(c.Cur, c.Base)) {
		t.Error("claim or its .done left after the last hand-off")
	}
}

// A destination known failing gets no try before its back-off is over,
// which doubles with each failure; one that works is tried at once.
func TestSweepHoldsFailingDestination(t *testing.T) {
	_, took := failASetup(t)
	var log bytes.Buffer
	sw := newSweeper(&Command{Command: failA, Timeout: time.Minute, Log: testLog(&log)}, &log)
	a := []Dest{{List: "a", Subqueue: "post", Recipient: "a@x.test"}}
	first := newClaim(t, testMessage)
	before := time.Now()
	if err := sw.Sweep(context.Background(), first, a); !errors.Is(err, ErrDeferred) {
		t.Fatalf("Sweep: %v", err)
	}
	st, err := os.Stat(first.DeferPath())
	if err != nil {
		t.Fatal(err)
	}
	if wait := st.ModTime().Sub(before); wait < MinBackoff || wait > MinBackoff+5*time.Second {
		t.Errorf("next try in %v, want about %v", wait, MinBackoff)
	}
	second := newClaim(t, testMessage)
	lines := strings.Count(log.String(), "\n")
	if err := sw.Sweep(context.Background(), second, a); !errors.Is(err, ErrDeferred) {
		t.Fatalf("Sweep of the second: %v", err)
	}
	if st2, _ := os.Stat(second.DeferPath()); st2 == nil || !st2.ModTime().Equal(st.ModTime()) {
		t.Errorf("the second message's next try is not its destination's")
	}
	if n := strings.Count(log.String(), "\n"); n != lines {
		t.Errorf("a deferral without a try logged %d lines without -v", n-lines)
	}
	if next := sw.fail(a, errors.New("x"), st.ModTime()); next.Sub(st.ModTime()) != 2*MinBackoff {
		t.Errorf("back-off after a second failure %v, want %v", next.Sub(st.ModTime()), 2*MinBackoff)
	}
	other := newClaim(t, testMessage)
	if err := sw.Sweep(context.Background(), other, []Dest{{List: "b", Subqueue: "post", Recipient: "b@x.test"}}); err != nil {
		t.Fatalf("another list's message: %v", err)
	}
	if got := testkit.ReadFile(t, took); got != "b\n" {
		t.Errorf("hand-offs %q, want list b's alone", got)
	}
}
