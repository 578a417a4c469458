// Package logline writes the one log format every mdpipe tool and package
// uses: `prog: what 'path': why`, one event a line on stderr. It has no
// other part of mdpipe below it, so any package may log without taking
// on the command-line layer.
package logline

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// Log writes one-line events: `prog: what 'path': why`, no timestamps,
// since multilog, svlogd and s6-log add their own.
type Log struct {
	Prog    string
	Verbose bool
	mu      sync.Mutex
	w       io.Writer
}

// New returns a Log for prog writing to stderr.
func New(prog string) *Log { return &Log{Prog: prog, w: os.Stderr} }

// SetOutput redirects the log, for tests.
func (l *Log) SetOutput(w io.Writer) { l.w = w }

// Path logs an event about one file: `prog: what 'path': why`, or
// `prog: 'path': why` when what is empty.
func (l *Log) Path(what, path string, why error) {
	if what != "" {
		what += " "
	}
	// The path too: a file name may hold a newline (mdclaim logs those).
	l.line(oneLine(fmt.Sprintf("%s'%s': %s", what, path, why.Error())))
}

// Printf logs a line that is not about one file.
func (l *Log) Printf(format string, args ...any) {
	l.line(oneLine(fmt.Sprintf(format, args...)))
}

// Info logs only with -v.
func (l *Log) Info(format string, args ...any) {
	if l.Verbose {
		l.Printf(format, args...)
	}
}

func (l *Log) line(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	w := l.w
	if w == nil {
		w = os.Stderr
	}
	fmt.Fprintf(w, "%s: %s\n", l.Prog, s)
}

// oneLine keeps a log event on one line, and the log reader's terminal
// safe, whatever an error text, a hostile file name or a command's stderr
// holds: every control byte is escaped, \n, \r and \t as such, the rest
// as \xNN (C1 controls as \u00NN), and so is a byte that is not UTF-8.
// This is the one way any tool's words reach its stderr, so no log line
// can be split or forged.
func oneLine(s string) string {
	i := 0
	for i < len(s) && s[i] >= 0x20 && s[i] < 0x7f {
		i++
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r >= 0x80 && r < 0xa0:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}
