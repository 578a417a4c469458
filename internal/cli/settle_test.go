package cli

import (
	"io"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// settlePipe returns an Output on a new pipe holding three records, and
// the pipe's read end.
func settlePipe(t *testing.T) (*Output, *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	o := NewWriterOutput(w)
	for _, p := range []string{"/i/cur/1:1,P", "/i/cur/2:1,P", "/i/cur/3:1,P"} {
		o.Record(p, "list", "post", "list@x")
	}
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	return o, r
}

// unreadBytes returns how many bytes the pipe of o holds.
func unreadBytes(t *testing.T, o *Output) int {
	t.Helper()
	n, err := unix.IoctlGetInt(o.sent.fd, unix.TIOCINQ)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Settle returns once the reader has read all the pipe holds, long
// before its limit.
func TestSettleReaderReadsAll(t *testing.T) {
	o, r := settlePipe(t)
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(r, make([]byte, len("/i/cur/1:1,P\tlist\tpost\tlist@x\n")*3))
		read <- err
	}()
	const limit = time.Minute
	start := time.Now()
	o.Settle(limit)
	if took := time.Since(start); took >= limit/2 {
		t.Errorf("Settle took %v with a reader that read everything", took)
	}
	if n := unreadBytes(t, o); n != 0 {
		t.Errorf("Settle returned with %d bytes unread", n)
	}
	if err := <-read; err != nil {
		t.Fatal(err)
	}
}

// Settle returns at once when the reader has gone, and Unread then finds
// the records it left.
func TestSettleReaderGone(t *testing.T) {
	o, r := settlePipe(t)
	r.Close()
	const limit = time.Minute
	start := time.Now()
	o.Settle(limit)
	if took := time.Since(start); took >= limit/2 {
		t.Errorf("Settle took %v after the reader had gone", took)
	}
	if got := collect(o.Unread); len(got) != 3 {
		t.Errorf("Unread after Settle = %q, want the 3 records", got)
	}
}

// Settle gives up at its limit on a reader that is there and reads
// nothing: what the pipe holds is the reader's to read later.
func TestSettleSlowReaderKeeps(t *testing.T) {
	o, _ := settlePipe(t)
	const limit = 20 * time.Millisecond
	start := time.Now()
	o.Settle(limit)
	if took := time.Since(start); took < limit {
		t.Errorf("Settle returned after %v, before its limit %v, with the pipe full", took, limit)
	}
	if n := unreadBytes(t, o); n == 0 {
		t.Error("the pipe lost what it held")
	}
	if got := collect(o.Unread); len(got) != 0 {
		t.Errorf("Unread with the reader there = %q, want none", got)
	}
}

// Settle looks at the pipe soon, then less and less often: the first look
// waits settleFirst, each next one twice the last, never more than
// settleMost.
func TestSettleWaits(t *testing.T) {
	var got []time.Duration
	for w := range settleWaits() {
		if got = append(got, w); len(got) == 12 {
			break
		}
	}
	if got[0] != settleFirst {
		t.Errorf("first wait %v, want %v", got[0], settleFirst)
	}
	for i := 1; i < len(got); i++ {
		if want := min(2*got[i-1], settleMost); got[i] != want {
			t.Errorf("wait %d is %v after %v, want %v", i, got[i], got[i-1], want)
		}
	}
	if last := got[len(got)-1]; last != settleMost {
		t.Errorf("wait settles at %v, want %v", last, settleMost)
	}
}
