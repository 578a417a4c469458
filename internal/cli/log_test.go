package cli

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// logged returns what write logs through a Log of the tool prog.
func logged(prog string, write func(l *Log)) string {
	var buf bytes.Buffer
	l := NewLog(prog)
	l.SetOutput(&buf)
	write(l)
	return buf.String()
}

func TestLog(t *testing.T) {
	got := logged("mdroute", func(l *Log) {
		l.Path("", "in/cur/1:1,P", errors.New("no envelope recipient"))
		l.Path("skipping", "in/new/a\nb", errors.New("name holds a newline"))
		l.Path("cannot claim", "p", errors.New("two\nlines"))
		l.Printf("known lists: %v", "gone")
		l.Info("routed %s", "quietly")
		l.Verbose = true
		l.Info("routed %s", "loudly")
	})
	want := strings.Join([]string{
		"mdroute: 'in/cur/1:1,P': no envelope recipient",
		`mdroute: skipping 'in/new/a\nb': name holds a newline`,
		`mdroute: cannot claim 'p': two\nlines`,
		"mdroute: known lists: gone",
		"mdroute: routed loudly",
	}, "\n") + "\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
}

// Every log line is one line, with no byte a terminal acts on.
func TestLogEscapesControlBytes(t *testing.T) {
	got := logged("mdfail", func(l *Log) {
		l.Path("cannot park", "in/cur/a\x1b[31mred\x07:1,P", errors.New("tab\there, cr\rthere, del\x7f, c1\u009b, nul\x00, bad\xff, ok é"))
	})
	want := `mdfail: cannot park 'in/cur/a\x1b[31mred\x07:1,P': tab\there, cr\rthere, del\x7f, c1\u009b, nul\x00, bad\xff, ok é` + "\n"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
}
