package tool

import (
	"errors"

	"mdpipe/internal/fsx"

	"golang.org/x/sys/unix"
)

// isPermanentRead reports a read failure that no retry can mend: the
// path is not a regular file, or names something that cannot be a
// message (a directory, a name too long).
func isPermanentRead(err error) bool {
	return errors.Is(err, fsx.ErrNotRegular) || errors.Is(err, unix.EISDIR) ||
		errors.Is(err, unix.ENAMETOOLONG) || errors.Is(err, unix.ENOTDIR)
}
