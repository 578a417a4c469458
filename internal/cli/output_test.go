package cli

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writes records each Write call, as a pipe reader would see them arrive.
type writes struct {
	calls []string
	err   error
}

func (w *writes) Write(b []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	w.calls = append(w.calls, string(b))
	return len(b), nil
}

// TestOutputBufferedUntilFlush: fewer than flushGroups messages wait for
// the flush, and then go out in one write.
func TestOutputBufferedUntilFlush(t *testing.T) {
	w := &writes{}
	o := NewWriterOutput(w)
	var want strings.Builder
	for i := range flushGroups - 1 {
		o.Record(fmt.Sprintf("a/cur/%d:1,P", i), "mylist", "post", "mylist@x")
		fmt.Fprintf(&want, "a/cur/%d:1,P\tmylist\tpost\tmylist@x\n", i)
	}
	if len(w.calls) != 0 {
		t.Errorf("written before Flush: %q", w.calls)
	}
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{want.String()}, w.calls); d != "" {
		t.Errorf("writes (-want +got):\n%s", d)
	}
}

// TestOutputFlushEvery: every flushGroups messages go out in one write
// without waiting for a flush, so the next stage can start on them.
func TestOutputFlushEvery(t *testing.T) {
	w := &writes{}
	o := NewWriterOutput(w)
	for i := range 2*flushGroups + 1 {
		o.Record(fmt.Sprintf("a/cur/%d:1,P", i))
	}
	if len(w.calls) != 2 || strings.Count(w.calls[0], "\n") != flushGroups {
		t.Errorf("%d messages made %d writes (%q), want 2 of %d each", 2*flushGroups+1, len(w.calls), w.calls, flushGroups)
	}
}

// TestOutputGroupsWhole checks that the records of one message (a group)
// never straddle two writes, even when the buffer fills in front of them.
func TestOutputGroupsWhole(t *testing.T) {
	w := &writes{}
	o := NewWriterOutput(w)
	var all strings.Builder
	group := 0
	for all.Len() < 300<<10 {
		// Groups of 1 to 4 records with paths of varying length.
		n := group%4 + 1
		for i := 0; i < n; i++ {
			path := fmt.Sprintf("/intake/cur/%d.%s:1,P", group, strings.Repeat("p", group%97))
			o.Add(path, fmt.Sprintf("list%d", i), "post", "r@x")
			fmt.Fprintf(&all, "%s\tlist%d\tpost\tr@x\n", path, i)
		}
		o.End()
		group++
	}
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if len(w.calls) < 4 {
		t.Fatalf("%d writes for %d bytes: the buffer never filled", len(w.calls), all.Len())
	}
	got := strings.Join(w.calls, "")
	if got != all.String() {
		t.Fatal("output differs from the records added")
	}
	for i, c := range w.calls {
		if !strings.HasSuffix(c, "\n") {
			t.Fatalf("write %d ends inside a record", i)
		}
		// The next write must start a new group: a path not the same as the
		// last record's of this write.
		if i+1 < len(w.calls) {
			lines := strings.Split(strings.TrimSuffix(c, "\n"), "\n")
			last := strings.SplitN(lines[len(lines)-1], "\t", 2)[0]
			first := strings.SplitN(w.calls[i+1], "\t", 2)[0]
			if last == first {
				t.Errorf("group of %s split between writes %d and %d", last, i, i+1)
			}
		}
	}
}

func TestOutputGroupBiggerThanBuffer(t *testing.T) {
	w := &writes{}
	o := NewWriterOutput(w)
	o.Record("small")
	big := strings.Repeat("b", 100<<10)
	o.Add(big)
	o.Add(big)
	o.End()
	if err := o.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.calls, ""); got != "small\n"+big+"\n"+big+"\n" {
		t.Errorf("lost or reordered output: %d bytes", len(got))
	}
	if w.calls[0] != "small\n" {
		t.Errorf("first write %.20q..., want the earlier record flushed alone", w.calls[0])
	}
}

func TestOutputError(t *testing.T) {
	epipe := errors.New("broken pipe")
	w := &writes{err: epipe}
	o := NewWriterOutput(w)
	o.Record("a")
	if err := o.Flush(); !errors.Is(err, epipe) {
		t.Errorf("Flush = %v, want the write error", err)
	}
	w.err = nil
	o.Record("b")
	if err := o.Flush(); !errors.Is(err, epipe) || !errors.Is(o.Err(), epipe) {
		t.Errorf("Flush, Err after an error = %v, %v; want the first error kept", err, o.Err())
	}
}

func TestWorse(t *testing.T) {
	order := []Status{OK, None, Perm, Temp}
	for i, a := range order {
		for j, b := range order {
			want := a
			if j > i {
				want = b
			}
			if got := Worse(a, b); got != want {
				t.Errorf("Worse(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
	if d := cmp.Diff([]int{0, 1, 100, 111}, []int{int(OK), int(None), int(Perm), int(Temp)}); d != "" {
		t.Errorf("exit codes (-want +got):\n%s", d)
	}
}

func TestFlagsEnvironment(t *testing.T) {
	t.Setenv("T_STR", "from-env")
	t.Setenv("T_INT", "7")
	t.Setenv("T_DUR", "90s")
	t.Setenv("T_BOOL", "yes")
	t.Setenv("T_OFF", "no")
	t.Setenv("T_ZERO", "0")
	f := NewFlags("test")
	s := f.String("s", "T_STR", "def", "")
	n := f.Int("n", "T_INT", 1, "")
	d := f.Duration("d", "T_DUR", time.Second, "")
	b := f.Bool("b", "T_BOOL", "")
	off := f.Bool("o", "T_OFF", "")
	zero := f.Bool("z", "T_ZERO", "")
	unset := f.Bool("u", "T_UNSET", "")
	if err := f.Parse([]string{"-n", "9", "arg"}); err != nil {
		t.Fatal(err)
	}
	got := []any{*s, *n, *d, *b, *off, *zero, *unset, f.Args()}
	want := []any{"from-env", 9, 90 * time.Second, true, false, false, false, []string{"arg"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
}

func TestFlagsBadEnvironment(t *testing.T) {
	for _, env := range []string{"T_INT", "T_DUR"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, "soon")
			f := NewFlags("test")
			f.Int("n", "T_INT", 1, "")
			f.Duration("d", "T_DUR", time.Second, "")
			if err := f.Parse(nil); err == nil || !strings.HasPrefix(err.Error(), env+"='soon' in the environment: ") {
				t.Errorf("Parse = %v, want an error naming %s", err, env)
			}
		})
	}
}
