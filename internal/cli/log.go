package cli

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
)

// Log writes the one-line events of DESIGN "Logging": `prog: what 'path':
// why`, no timestamps, since multilog, svlogd and s6-log add their own.
type Log struct {
	Prog    string
	Verbose bool
	mu      sync.Mutex
	w       io.Writer
}

// NewLog returns a Log for prog writing to stderr.
func NewLog(prog string) *Log { return &Log{Prog: prog, w: os.Stderr} }

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

// oneLine keeps a log event on one line whatever an error text or a
// hostile file name holds, so that log readers can count on it.
func oneLine(s string) string {
	if !strings.ContainsAny(s, "\n\r") {
		return s
	}
	return strings.NewReplacer("\n", `\n`, "\r", `\r`).Replace(s)
}
