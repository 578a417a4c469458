// Package record is the line format between the mdpipe filters (DESIGN:
// "The line format between filters"): one record per line, fields
// separated by one TAB, no quoting.
//
//	PATH                                 claimed, not (yet) routed
//	PATH <TAB> LIST <TAB> SUBQUEUE <TAB> RECIPIENT
package record

import (
	"bytes"
	"errors"
	"strings"
)

// Record is one line. A bare PATH record has only Path set.
type Record struct {
	Path      string
	List      string
	Subqueue  string
	Recipient string
}

// Routed reports whether the record carries a route.
func (r Record) Routed() bool { return r.List != "" }

// ErrFields is the error for a line that has a route, but not all of it.
var ErrFields = errors.New("want PATH or PATH<TAB>LIST<TAB>SUBQUEUE<TAB>RECIPIENT")

// Parse splits a line (without its newline) into a Record. Tools that need
// only the path use the first field and ignore the rest.
func Parse(line []byte) (Record, error) {
	f := bytes.Split(line, []byte{'\t'})
	switch len(f) {
	case 1:
		return Record{Path: string(f[0])}, nil
	case 4:
		if len(f[0]) == 0 || len(f[1]) == 0 || len(f[2]) == 0 {
			return Record{Path: string(f[0])}, ErrFields
		}
		return Record{Path: string(f[0]), List: string(f[1]), Subqueue: string(f[2]), Recipient: string(f[3])}, nil
	}
	return Record{Path: string(f[0])}, ErrFields
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
