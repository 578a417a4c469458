// Package record is the line format between the mdpipe filters
// (mdpipe(7), "Records"): one record per line, fields separated by one
// TAB, no quoting.
//
//	PATH                                                  claimed, not (yet) routed
//	PATH <TAB> REASON                                     failed: mdfail parks it, and keeps REASON
//	PATH <TAB> LIST <TAB> SUBQUEUE <TAB> RECIPIENT <TAB> I/N   routed: record I of the message's N
//	PATH <TAB> LIST <TAB> SUBQUEUE <TAB> RECIPIENT            routed, typed by hand: no count
//
// mdroute writes the N routed records of a message on consecutive lines,
// numbered 1/N to N/N, so that mdsweep knows when it holds all of them,
// whatever the read boundaries.
package record

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxCount bounds N: more records for one message than any envelope
// header can hold (an Envelope-to within the 64 KiB header limit).
const MaxCount = 1 << 16

// Record is one line. A bare PATH record has only Path set.
type Record struct {
	Path      string
	List      string
	Subqueue  string
	Recipient string
	// Index and Count are I and N of "I/N": this is record Index of the
	// Count records of the message. Both 0 for a record without a count
	// (typed by hand): a message of its own, with the uncounted records
	// right after it that name the same path.
	Index, Count int
	// Reason is why the message failed, on a failed record (two fields):
	// mdfail keeps it with the parked message.
	Reason string
}

// Routed reports whether the record carries a route.
func (r Record) Routed() bool { return r.List != "" }

// Counted reports whether the record says how many records its message has.
func (r Record) Counted() bool { return r.Count > 0 }

// Failed reports whether the record is a failed one: a path and why.
func (r Record) Failed() bool { return r.Reason != "" }

// ErrFields is the error for a line that has a route, but not all of it.
var ErrFields = errors.New("want PATH, PATH<TAB>REASON, or PATH<TAB>LIST<TAB>SUBQUEUE<TAB>RECIPIENT[<TAB>I/N]")

// ErrCount is the error for a fifth field that is not I/N with 1 <= I <= N.
var ErrCount = errors.New("the fifth field is not I/N, 1 <= I <= N <= 65536")

// Parse splits a line (without its newline) into a Record. Tools that need
// only the path use the first field and ignore the rest.
func Parse(line []byte) (Record, error) {
	f := bytes.Split(line, []byte{'\t'})
	switch len(f) {
	case 1:
		return Record{Path: string(f[0])}, nil
	case 2:
		if len(f[0]) == 0 || len(f[1]) == 0 {
			return Record{Path: string(f[0])}, ErrFields
		}
		return Record{Path: string(f[0]), Reason: string(f[1])}, nil
	case 4, 5:
		if len(f[0]) == 0 || len(f[1]) == 0 || len(f[2]) == 0 {
			return Record{Path: string(f[0])}, ErrFields
		}
		r := Record{Path: string(f[0]), List: string(f[1]), Subqueue: string(f[2]), Recipient: string(f[3])}
		if len(f) == 5 {
			i, n, ok := parseCount(f[4])
			if !ok {
				return Record{Path: r.Path}, ErrCount
			}
			r.Index, r.Count = i, n
		}
		return r, nil
	}
	return Record{Path: string(f[0])}, ErrFields
}

func parseCount(b []byte) (i, n int, ok bool) {
	s := string(b)
	k := strings.IndexByte(s, '/')
	if k < 0 {
		return 0, 0, false
	}
	i, err1 := strconv.Atoi(s[:k])
	n, err2 := strconv.Atoi(s[k+1:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[k+1] == '+' || i < 1 || i > n || n > MaxCount {
		return 0, 0, false
	}
	return i, n, true
}

// Count formats the fifth field of record i of n: "i/n".
func Count(i, n int) string {
	return strconv.Itoa(i) + "/" + strconv.Itoa(n)
}

// PathOf returns the first field of a line: the path.
func PathOf(line []byte) string {
	if i := bytes.IndexByte(line, '\t'); i >= 0 {
		line = line[:i]
	}
	return string(line)
}

// ErrUnsafePath is the error for a path that cannot travel in a record.
var ErrUnsafePath = errors.New("path holds a TAB or a newline, which the record format cannot carry")

// CheckPath refuses a path that would break the line format.
func CheckPath(p string) error {
	if strings.ContainsAny(p, "\t\n") {
		return ErrUnsafePath
	}
	return nil
}

// maxReason bounds a reason: one line a person reads, not a transcript.
const maxReason = 1000

// CleanReason makes an error's text fit the REASON field: each run of
// spaces, TABs, newlines and other control characters becomes one space, the
// ends are trimmed, and a long text is cut (at a character boundary).
// An empty reason becomes "-", so that a failed record always has two
// fields.
func CleanReason(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r <= 0x20 || r == 0x7f || r == utf8.RuneError {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		if b.Len()+utf8.RuneLen(r) > maxReason {
			break
		}
		b.WriteRune(r)
	}
	out := strings.TrimSpace(b.String())
	if out == "" {
		return "-"
	}
	return out
}
