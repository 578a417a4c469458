// Package fsx holds the few file system operations the safety rules rest
// on: rename without overwriting, opening only regular files, the flock a
// claim's lock takes, and batched directory fsync. What they do to a
// claim is package intake's to decide (a Claim's verbs).
package fsx

import (
	"errors"
	"os"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// noRenameat2 is set once a file system refused RENAME_NOREPLACE, so that
// later renames go straight to link+unlink instead of failing first.
var noRenameat2 atomic.Bool

// Rename moves oldpath to newpath and never replaces an existing newpath
// (mdpipe(7), RULES: never overwrite). It returns an error wrapping
// unix.EEXIST if newpath exists, and one wrapping unix.ENOENT if oldpath is
// gone (someone else acted first) or a directory of newpath is missing.
func Rename(oldpath, newpath string) error {
	return RenameAt(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath)
}

// RenameAt is Rename with each name relative to a directory descriptor
// (or unix.AT_FDCWD). A runner that moves many messages between the same
// two directories keeps them open, so the kernel looks up one name per
// call instead of walking a path.
func RenameAt(olddir int, oldname string, newdir int, newname string) error {
	if !noRenameat2.Load() {
		err := renameat2(olddir, oldname, newdir, newname, unix.RENAME_NOREPLACE)
		if err == nil {
			return nil
		}
		if err != unix.EINVAL && err != unix.ENOSYS && err != unix.EOPNOTSUPP {
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: err}
		}
		noRenameat2.Store(true)
	}
	return linkRename(olddir, oldname, newdir, newname)
}

// linkRename is the fallback for never overwrite: link() never replaces, and
// the unlink that follows completes the move. Of two processes racing for
// the same oldname, the second link fails (EEXIST or ENOENT).
func linkRename(olddir int, oldname string, newdir int, newname string) error {
	if err := unix.Linkat(olddir, oldname, newdir, newname, 0); err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	if err := unix.Unlinkat(olddir, oldname, 0); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "unlink", Path: oldname, Err: err}
	}
	return nil
}

// ForceLinkFallback makes Rename use link+unlink, as on a file system that
// refuses RENAME_NOREPLACE. For tests.
func ForceLinkFallback(on bool) { noRenameat2.Store(on) }

// IsExist reports whether err says the target exists.
func IsExist(err error) bool { return errors.Is(err, unix.EEXIST) }

// IsCrossDevice reports whether err says source and target are on
// different file systems.
func IsCrossDevice(err error) bool { return errors.Is(err, unix.EXDEV) }
