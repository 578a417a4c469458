package cli

import (
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// collect gathers the lines a function passes to its callback.
func collect(f func(func([]byte))) []string {
	var got []string
	f(func(line []byte) { got = append(got, string(line)) })
	return got
}

// Once the reader of a pipe has gone, the writer learns which records it
// never read: the ones the pipe still holds (one whose start was read
// included), and the ones never written; while the reader is there,
// none.
func TestOutputUnread(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	o := NewWriterOutput(w)
	for _, p := range []string{"/i/cur/1:1,P", "/i/cur/2:1,P", "/i/cur/3:1,P"} {
		o.Record(p, "list", "post", "list@x")
	}
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := collect(o.Unread); len(got) != 0 {
		t.Errorf("Unread while the reader is there = %q, want none", got)
	}
	// The reader takes the first record and a part of the second.
	first := len("/i/cur/1:1,P\tlist\tpost\tlist@x\n")
	if _, err := r.Read(make([]byte, first+5)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	o.Record("/i/cur/4:1,P") // written after the reader went: fails
	if err := o.Flush(); err == nil {
		t.Fatal("Flush into a pipe without a reader succeeded")
	}
	want := []string{"/i/cur/2:1,P\tlist\tpost\tlist@x", "/i/cur/3:1,P\tlist\tpost\tlist@x", "/i/cur/4:1,P"}
	if d := cmp.Diff(want, collect(o.Unread)); d != "" {
		t.Errorf("Unread (-want +got):\n%s", d)
	}
}

// Sent keeps only the last of a long stream, and finds the start of the
// first unread record in it.
func TestSentKeepsTheTail(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	s := NewSent(int(w.Fd()))
	s.keep = 64 // small, so that it trims
	var all []string
	for i := range 40 {
		rec := strings.Repeat("x", i%7) + "/cur/" + string(rune('a'+i%26)) + ":1,P\n"
		all = append(all, strings.TrimSuffix(rec, "\n"))
		if _, err := w.WriteString(rec); err != nil {
			t.Fatal(err)
		}
		s.Add([]byte(rec))
	}
	// Read all but the last two records and a part of the one before.
	tail := len(all[38]) + len(all[39]) + 2 + 3
	total := 0
	for _, a := range all {
		total += len(a) + 1
	}
	if _, err := r.Read(make([]byte, total-tail)); err != nil {
		t.Fatal(err)
	}
	r.Close()
	want := all[37:]
	if d := cmp.Diff(want, collect(s.Unread)); d != "" {
		t.Errorf("Unread (-want +got):\n%s", d)
	}
}

// Left reads what is there without waiting, and leaves operands alone.
func TestInputLeft(t *testing.T) {
	in := NewReaderInput(strings.NewReader("/i/cur/1:1,P\n\n/i/cur/2:1,P\tl\tpost\tl@x\n/i/cur/3:1,P"))
	if line, err := in.Next(); err != nil || string(line) != "/i/cur/1:1,P" {
		t.Fatalf("Next = %q, %v", line, err)
	}
	want := []string{"/i/cur/2:1,P\tl\tpost\tl@x", "/i/cur/3:1,P"}
	if d := cmp.Diff(want, collect(in.Left)); d != "" {
		t.Errorf("Left (-want +got):\n%s", d)
	}
	ops, err := NewInput([]string{"/i/cur/4:1,P"})
	if err != nil {
		t.Fatal(err)
	}
	if got := collect(ops.Left); len(got) != 0 {
		t.Errorf("Left of operands = %q, want none", got)
	}
}
