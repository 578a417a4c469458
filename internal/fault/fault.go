// Package fault sorts what can go wrong with a message into the three
// cases every tool must tell apart (mdpipe(7), RULES: temporary or
// permanent): gone, when someone else acted on it first, which is no
// failure; temporary, which is retried and never parks the message; and
// permanent, which parks it with one line. One function decides between
// the last two, so that claiming, handing off and the tools agree.
package fault

import (
	"errors"
	"io/fs"

	"mdpipe/internal/fsx"

	"golang.org/x/sys/unix"
)

// ErrGone says a claim, or the file an operation was about, is not there
// or is held by another process: someone else acted on it first
// (mdpipe(7), RULES: the owner rule). It is not a failure: the caller
// skips it quietly, or says so in one line, and goes on.
var ErrGone = errors.New("handed off, parked or returned already; nothing to do")

// IsGone reports whether err is ErrGone, or a system's ENOENT, which is
// the same news about a path.
func IsGone(err error) bool {
	return errors.Is(err, ErrGone) || errors.Is(err, fs.ErrNotExist)
}

// Error is a failure whose class is decided: a permanent one parks the
// message as X; a temporary one is retried and never parks it.
type Error struct {
	Temporary bool
	Err       error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as permanent, whatever it wraps.
func Permanent(err error) error { return &Error{Err: err} }

// Temporary marks err as temporary, whatever it wraps.
func Temporary(err error) error { return &Error{Temporary: true, Err: err} }

// IsPermanent is the one classifier. An error marked by Permanent or
// Temporary is what it was marked. Otherwise only a failure of the file
// itself is permanent: it is not a regular file, its own mode or owner
// refuses us (fsx.ErrUnreadable), its name is too long or goes through
// something that is not a directory, or it refuses the operation by its
// own flags (EPERM, unlike EACCES, is chattr +i or a
// sticky directory's owner check; EBUSY a mount point; EINVAL a name the
// file system refuses). Retrying such a file fails the same way for ever,
// and would hold every message behind it. Everything else (disk full, no
// permission yet, an I/O error, a read-only mount, a missing directory)
// can pass without the message changing, so it is temporary: retrying a
// permanent failure costs a log line, while parking a temporary one
// strands mail in X for a person. ErrGone is neither: no failure at all.
func IsPermanent(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return !e.Temporary
	}
	if errors.Is(err, ErrGone) {
		return false
	}
	if errors.Is(err, fsx.ErrNotRegular) || errors.Is(err, fsx.ErrUnreadable) {
		return true
	}
	for _, errno := range []unix.Errno{unix.ENAMETOOLONG, unix.ELOOP, unix.ENOTDIR, unix.EISDIR,
		unix.EPERM, unix.EBUSY, unix.EINVAL} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// IsTemporary reports whether err should be retried: a failure that
// IsPermanent does not call permanent. ErrGone is not retried either.
func IsTemporary(err error) bool {
	return err != nil && !errors.Is(err, ErrGone) && !IsPermanent(err)
}

// Classify marks err with its class, as IsPermanent decides; an error
// marked already is returned as it is.
func Classify(err error) error {
	var e *Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	if IsPermanent(err) {
		return Permanent(err)
	}
	return Temporary(err)
}
