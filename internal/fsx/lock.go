package fsx

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrGone says a claim vanished before it could be locked, or is locked:
// someone else acted on it first, or is acting on it now (DESIGN rule 1),
// so the caller skips it quietly.
var ErrGone = errors.New("claim is gone")

// ErrNotRegular says a path is not a regular file (DESIGN rule 4).
var ErrNotRegular = errors.New("not a regular file")

// OpenRegularFd is OpenRegular without the *os.File: a bare descriptor
// the caller closes with unix.Close. mdroute opens every message once, and
// an *os.File costs an allocation, a finalizer and a netpoll probe each.
func OpenRegularFd(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP {
			return -1, fmt.Errorf("%w (a symlink)", ErrNotRegular)
		}
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return -1, fmt.Errorf("%w (%s)", ErrNotRegular, KindOf(st.Mode))
	}
	return fd, nil
}

// OpenRegular opens path read-only without following a symlink, without
// blocking on a FIFO, and checks with fstat that it is a regular file.
func OpenRegular(path string) (*os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if err == unix.ELOOP {
			return nil, st, fmt.Errorf("%w (a symlink)", ErrNotRegular)
		}
		return nil, st, &os.PathError{Op: "open", Path: path, Err: err}
	}
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, st, &os.PathError{Op: "fstat", Path: path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		unix.Close(fd)
		return nil, st, fmt.Errorf("%w (%s)", ErrNotRegular, KindOf(st.Mode))
	}
	return os.NewFile(uintptr(fd), path), st, nil
}

// LockClaim opens a claim and holds flock(LOCK_EX) on it (DESIGN rule 1),
// for a hand-off that is more than one rename. A claim locked already is
// ErrGone, not waited for: its holder owns it, and leaves it claimed for
// mdclaim -r if it fails. Waiting would hold this pipeline for as long as
// another's command or LMTP hand-off runs, deaf to SIGTERM, and for ever
// when the holder is ourselves: a claim that came back through recovery
// while still in our input, and whose first hand-off awaits its batch's
// commit. After the lock is taken it checks that path still names the
// locked file: a recovery or a hand-off may have moved it on since the
// open, and then the claim is ErrGone too.
func LockClaim(path string) (*os.File, unix.Stat_t, error) {
	f, st, err := OpenRegular(path)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, st, ErrGone
		}
		return nil, st, err
	}
	if ok, err := TryLock(f); !ok {
		f.Close()
		if err != nil {
			return nil, st, &os.PathError{Op: "flock", Path: path, Err: err}
		}
		return nil, st, ErrGone
	}
	var now unix.Stat_t
	if err := unix.Lstat(path, &now); err != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		f.Close()
		return nil, st, ErrGone
	}
	return f, st, nil
}

// TryLock takes flock(LOCK_EX) on f without waiting; false if another
// process holds a lock on it.
func TryLock(f *os.File) (bool, error) {
	err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if err == unix.EWOULDBLOCK {
		return false, nil
	}
	return err == nil, err
}

// KindOf names a file type for log lines.
func KindOf(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "regular file"
	case unix.S_IFDIR:
		return "a directory"
	case unix.S_IFLNK:
		return "a symlink"
	case unix.S_IFIFO:
		return "a FIFO"
	case unix.S_IFCHR:
		return "a character device"
	case unix.S_IFBLK:
		return "a block device"
	case unix.S_IFSOCK:
		return "a socket"
	}
	return "an unknown file type"
}
