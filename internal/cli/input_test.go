package cli

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mdpipe/internal/pipewait"
	"os"
	"strings"
	"testing"
	"time"
)

// step is one call on an Input: a Peek or a Next, and what it must give.
type step struct {
	peek bool
	want string // the record; "" with ok false for Peek, with err for Next
	ok   bool   // Peek only
	err  error  // Next only
}

func next(s string) step     { return step{want: s} }
func nextErr(err error) step { return step{err: err} }
func peek(s string) step     { return step{peek: true, want: s, ok: true} }
func peekNone() step         { return step{peek: true} }
func run(t *testing.T, in *Input, steps []step) {
	t.Helper()
	for i, s := range steps {
		if s.peek {
			got, ok := in.Peek()
			if string(got) != s.want || ok != s.ok {
				t.Errorf("step %d: Peek = %q, %v; want %q, %v", i, got, ok, s.want, s.ok)
			}
			continue
		}
		got, err := in.Next()
		if !errors.Is(err, s.err) || string(got) != s.want {
			t.Errorf("step %d: Next = %q, %v; want %q, %v", i, got, err, s.want, s.err)
		}
	}
}

func TestInputOperands(t *testing.T) {
	in, err := NewInput([]string{"a/cur/1:1,P", "b\twith tab", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if !in.FromOperands() {
		t.Error("FromOperands = false")
	}
	run(t, in, []step{
		peek("a/cur/1:1,P"),
		next("a/cur/1:1,P"),
		peek("b\twith tab"),
		peek("b\twith tab"),
		next("b\twith tab"),
		next("c"),
		peekNone(),
		nextErr(io.EOF),
		nextErr(io.EOF),
	})
}

func TestInputReader(t *testing.T) {
	long := strings.Repeat("x", maxRecord+100)
	cases := []struct {
		name  string
		input string
		steps []step
	}{
		{"records", "a\nb\tl\ts\tr\n", []step{next("a"), next("b\tl\ts\tr"), nextErr(io.EOF)}},
		{"empty lines skipped", "\n\na\n\n\nb\n\n", []step{next("a"), peek("b"), next("b"), peekNone(), nextErr(io.EOF)}},
		{"peek before next", "a\nb\n", []step{peek("a"), peek("a"), next("a"), peek("b"), next("b"), peekNone(), nextErr(io.EOF)}},
		{"no final newline", "a\nb", []step{next("a"), peek("b"), next("b"), nextErr(io.EOF)}},
		{"empty", "", []step{peekNone(), nextErr(io.EOF)}},
		{"long record skipped", "a\n" + long + "\nb\n", []step{next("a"), nextErr(ErrRecordTooLong), next("b"), nextErr(io.EOF)}},
		{"long record not peeked", "a\n" + long + "\nb\n", []step{next("a"), peekNone(), nextErr(ErrRecordTooLong), peek("b"), next("b")}},
		{"long last record", "a\n" + long, []step{next("a"), nextErr(ErrRecordTooLong), nextErr(io.EOF)}},
		{"record at the limit", "a\n" + long[:maxRecord-1] + "\nb\n", []step{next("a"), next(long[:maxRecord-1]), next("b")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := NewReaderInput(strings.NewReader(tc.input))
			if in.FromOperands() {
				t.Error("FromOperands = true for a reader")
			}
			run(t, in, tc.steps)
		})
	}
}

// TestInputPipeIdle reads from a pipe: the idle function runs only when
// no record is waiting (there the tool flushes), and records that arrive
// while Next waits are returned.
func TestInputPipeIdle(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	in := &Input{r: bufio.NewReaderSize(pr, maxRecord), fd: int(pr.Fd()), outFd: -1}
	idle := 0
	in.OnIdle(func() {
		idle++
		if idle == 1 {
			// Nothing waits: a record written now must wake Next.
			go pw.WriteString("c\n")
		}
	})
	if _, err := pw.WriteString("a\nb\n"); err != nil {
		t.Fatal(err)
	}
	run(t, in, []step{next("a"), peek("b"), next("b")})
	if idle != 0 {
		t.Errorf("idle ran %d times while records were waiting", idle)
	}
	if in.Waiting() {
		t.Error("Waiting with an empty pipe")
	}
	if got, ok := in.Peek(); ok {
		t.Errorf("Peek on an empty pipe = %q, want nothing and no wait", got)
	}
	run(t, in, []step{next("c")})
	if idle != 1 {
		t.Errorf("idle ran %d times, want once before waiting", idle)
	}
	pw.Close()
	run(t, in, []step{nextErr(io.EOF)})
}

// TestInputQuiet: the quiet function runs after a pause only when no
// record comes within its time, and then once, before the wait goes on.
func TestInputQuiet(t *testing.T) {
	for _, c := range []struct {
		name       string
		quietFor   time.Duration
		duringIdle bool // the next record is written in the pause itself
		want       int
	}{
		{"a record comes in the pause", time.Hour, true, 0},
		{"nothing comes", time.Millisecond, false, 1},
	} {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		in := &Input{r: bufio.NewReaderSize(pr, maxRecord), fd: int(pr.Fd()), outFd: -1}
		in.OnIdle(func() {
			if c.duringIdle {
				pw.WriteString("b\n")
			}
		})
		quiet := 0
		in.OnQuiet(c.quietFor, func() {
			quiet++
			pw.WriteString("b\n") // so that Next returns
		})
		if _, err := pw.WriteString("a\n"); err != nil {
			t.Fatal(err)
		}
		run(t, in, []step{next("a"), next("b")})
		if quiet != c.want {
			t.Errorf("%s: quiet ran %d times, want %d", c.name, quiet, c.want)
		}
		pr.Close()
		pw.Close()
	}
}

// TestInputDownstreamGone: a tool blocked on input notices that the tool
// after it exited, instead of waiting for input forever.
func TestInputDownstreamGone(t *testing.T) {
	inR, inW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer inR.Close()
	defer inW.Close()
	outR, outW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer outW.Close()
	if PipeFd(int(outW.Fd())) != int(outW.Fd()) {
		t.Fatal("PipeFd does not see a pipe")
	}
	// The reader is there: a wait on empty input times out.
	if err := pipewait.Readable(context.Background(), int(inR.Fd()), int(outW.Fd()), 50*time.Millisecond); err != pipewait.ErrTimeout {
		t.Errorf("Readable with a live downstream = %v", err)
	}
	outR.Close()
	in := &Input{r: bufio.NewReaderSize(inR, maxRecord), fd: int(inR.Fd()), outFd: int(outW.Fd())}
	done := make(chan error, 1)
	go func() {
		_, err := in.Next()
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrDownstreamGone) {
			t.Errorf("Next = %v, want ErrDownstreamGone", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next still blocked 10s after the downstream reader closed")
	}
}

func TestPipeFd(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := PipeFd(int(f.Fd())); got != -1 {
		t.Errorf("PipeFd(regular file) = %d, want -1", got)
	}
	if IsTerminal(int(f.Fd())) {
		t.Error("IsTerminal(regular file)")
	}
}
