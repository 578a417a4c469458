package logline

import (
	"bytes"
	"errors"
	"testing"
)

// TestOneLine checks that whatever a file name or an error holds, an event
// is one line, and the log reader's terminal sees no control byte.
func TestOneLine(t *testing.T) {
	for _, c := range []struct {
		what, path, why string
		want            string
	}{
		{"skipping", "in/new/a", "dot-file", "mdclaim: skipping 'in/new/a': dot-file\n"},
		{"", "in/cur/b:1,P", "gone", "mdclaim: 'in/cur/b:1,P': gone\n"},
		{"skipping", "in/new/a\nmdclaim: forged", "x", `mdclaim: skipping 'in/new/a\nmdclaim: forged': x` + "\n"},
		{"cannot claim", "in/new/\x1b[2Jc\r\t", "bad\x00", `mdclaim: cannot claim 'in/new/\x1b[2Jc\r\t': bad\x00` + "\n"},
		{"skipping", "in/new/\xff\u0085é", "x", `mdclaim: skipping 'in/new/\xff\u0085é': x` + "\n"},
	} {
		var buf bytes.Buffer
		l := New("mdclaim")
		l.SetOutput(&buf)
		l.Path(c.what, c.path, errors.New(c.why))
		if buf.String() != c.want {
			t.Errorf("Path(%q, %q, %q) wrote %q, want %q", c.what, c.path, c.why, buf.String(), c.want)
		}
	}
}

// TestInfo checks that Info logs only when Verbose is set.
func TestInfo(t *testing.T) {
	var buf bytes.Buffer
	l := New("mdsweep")
	l.SetOutput(&buf)
	l.Info("handed off %d", 1)
	if buf.Len() != 0 {
		t.Errorf("Info without -v wrote %q", buf.String())
	}
	l.Verbose = true
	l.Info("handed off %d", 1)
	if buf.String() != "mdsweep: handed off 1\n" {
		t.Errorf("Info with -v wrote %q", buf.String())
	}
}
