package fsx

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// ErrNotRegular says a path is not a regular file (mdpipe(7), RULES:
// regular files only).
var ErrNotRegular = errors.New("not a regular file")

// ErrUnreadable says a file refuses to be opened by its own mode, owner
// or ACL, while its directory lets us reach it: no retry mends that, only
// a person (mdpipe(7), RULES: temporary or permanent).
var ErrUnreadable = errors.New("the file's own mode or owner refuses this user; a person must look")

// DeniedByFile returns err, an open of path that failed, marked with
// ErrUnreadable when the file itself refused it: EACCES on the open, while
// lstat still reaches the file. EACCES from a directory on the way fails
// the lstat as well, and stays what it was: a directory's mode is the
// site's, and can change back without the message changing.
func DeniedByFile(path string, err error) error {
	if !errors.Is(err, unix.EACCES) {
		return err
	}
	var st unix.Stat_t
	if unix.Lstat(path, &st) != nil {
		return err
	}
	return fmt.Errorf("%w: %w", unix.EACCES, ErrUnreadable)
}

// OpenRegularAt is OpenRegular for the file name in the directory dirfd
// (AT_FDCWD: name is a path), without the *os.File: a bare descriptor the
// caller closes with CloseFile. mdroute opens every message once, and an
// *os.File costs an allocation, a finalizer and a netpoll probe each.
// Errors name the file by path.
func OpenRegularAt(dirfd int, name, path string) (int, error) {
	fd, err := openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC)
	if err != nil {
		if err == unix.ELOOP {
			return -1, fmt.Errorf("%w (a symlink)", ErrNotRegular)
		}
		return -1, &os.PathError{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := fstat(fd, &st); err != nil {
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
