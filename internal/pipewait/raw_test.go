package pipewait

import (
	"context"
	"os"
	"testing"
	"time"
)

// A wait longer than its raw part goes on as an ordinary one: it times
// out only when its whole timeout has passed, and with no timeout it
// returns what arrives after the raw part, or the stop.
func TestWaitBeyondRawPart(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	fd := int(r.Fd())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	start := time.Now()
	if err := Readable(ctx, fd, -1, 3*rawWait); err != ErrTimeout {
		t.Fatalf("a wait for nothing: %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 3*rawWait {
		t.Errorf("a wait of %v timed out after %v", 3*rawWait, d)
	}

	// Data that comes after the raw part: whenever it comes, it is read.
	time.AfterFunc(2*rawWait, func() { w.Write([]byte("x")) })
	if err := Readable(ctx, fd, -1, -1); err != nil {
		t.Fatalf("a wait without a limit for data written after %v: %v", 2*rawWait, err)
	}
	var b [1]byte
	r.Read(b[:])

	// And a stop that comes after the raw part ends it.
	time.AfterFunc(2*rawWait, cancel)
	if err := Readable(ctx, fd, -1, -1); err != context.Canceled {
		t.Fatalf("a wait without a limit, stopped after %v: %v, want context.Canceled", 2*rawWait, err)
	}
}
