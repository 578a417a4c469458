package cli

import (
	"context"
	"os"
	"testing"
	"time"
)

// pipeInput is an Input on the read end of a pipe, as a tool in a
// pipeline has it, and the write end.
func pipeInput(t *testing.T) (*Input, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	in := NewReaderInput(r)
	in.fd = int(r.Fd())
	return in, w
}

// PeekWithin waits for a record still on its way: the next one comes from
// another goroutine, before or while PeekWithin waits; either way it is
// the one returned, and the following Next returns it again.
func TestPeekWithinWaits(t *testing.T) {
	in, w := pipeInput(t)
	if _, err := w.WriteString("a\tl\ts\tr\t1/2\n"); err != nil {
		t.Fatal(err)
	}
	if got, err := in.Next(); err != nil || string(got) != "a\tl\ts\tr\t1/2" {
		t.Fatalf("Next = %q, %v", got, err)
	}
	go w.WriteString("a\tl\ts\tr\t2/2\n")
	got, ok := in.PeekWithin(context.Background(), time.Minute)
	if !ok || string(got) != "a\tl\ts\tr\t2/2" {
		t.Fatalf("PeekWithin = %q, %v", got, ok)
	}
	if got, err := in.Next(); err != nil || string(got) != "a\tl\ts\tr\t2/2" {
		t.Fatalf("Next after PeekWithin = %q, %v", got, err)
	}
}

// At the end of the input, or on a stop, PeekWithin gives up at once;
// with nothing coming, it gives up after its bound.
func TestPeekWithinGivesUp(t *testing.T) {
	in, w := pipeInput(t)
	stop, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if got, ok := in.PeekWithin(stop, time.Minute); ok {
		t.Errorf("PeekWithin on a stop = %q, true", got)
	}
	if got, ok := in.PeekWithin(context.Background(), 10*time.Millisecond); ok {
		t.Errorf("PeekWithin with nothing coming = %q, true", got)
	}
	w.Close()
	if got, ok := in.PeekWithin(context.Background(), time.Minute); ok {
		t.Errorf("PeekWithin at the end = %q, true", got)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("gave up after %v", d)
	}
}
