// Package handoff hands claimed messages off to their list queues: a
// maildir tree (the embedded default), a command, or an LMTP server, with
// the retry discipline of DESIGN rule 6.
package handoff

import (
	"errors"

	"golang.org/x/sys/unix"
)

// Error is a failed hand-off, classified: a permanent one parks the
// message as X; a temporary one is retried and never parks it.
type Error struct {
	Temporary bool
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as permanent.
func Permanent(err error) error { return &Error{Err: err} }

// Temporary marks err as temporary.
func Temporary(err error) error { return &Error{Temporary: true, Err: err} }

// ErrNoClaim says the claim was not there when the hand-off began:
// handed off, parked or returned by someone else first (DESIGN rule 1).
// Nothing was done, and no queue directory was made for it. It is not a
// failure: the caller says so in one line and goes on.
var ErrNoClaim = &Error{Err: errors.New("handed off, parked or returned already; nothing to do")}

// IsTemporary reports whether err should be retried. An error nobody
// classified is temporary: retrying a permanent failure costs a log line,
// while parking a temporary one strands mail in X for a person.
func IsTemporary(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Temporary
	}
	return true
}

// classify makes a system call's error permanent when retrying cannot
// help (the name or the file itself is wrong), temporary otherwise (disk
// full, no permission yet, I/O error, read-only for now).
func classify(err error) error {
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	switch {
	case errors.Is(err, unix.ENAMETOOLONG), errors.Is(err, unix.ELOOP),
		errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.EISDIR):
		return Permanent(err)
	}
	return Temporary(err)
}
