package fault

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"mdpipe/internal/fsx"

	"golang.org/x/sys/unix"
)

func TestClassify(t *testing.T) {
	pathErr := func(errno unix.Errno) error { return &os.PathError{Op: "rename", Path: "x", Err: errno} }
	for _, c := range []struct {
		name      string
		err       error
		permanent bool
		temporary bool
		gone      bool
	}{
		{"not a regular file", fmt.Errorf("%w (a FIFO)", fsx.ErrNotRegular), true, false, false},
		{"name too long", pathErr(unix.ENAMETOOLONG), true, false, false},
		{"symlink loop", pathErr(unix.ELOOP), true, false, false},
		{"not a directory", pathErr(unix.ENOTDIR), true, false, false},
		{"a directory", pathErr(unix.EISDIR), true, false, false},
		{"immutable", pathErr(unix.EPERM), true, false, false},
		{"mount point", pathErr(unix.EBUSY), true, false, false},
		{"name refused", pathErr(unix.EINVAL), true, false, false},
		{"no permission yet", pathErr(unix.EACCES), false, true, false},
		{"the file's own mode refuses", fmt.Errorf("%w: %w", unix.EACCES, fsx.ErrUnreadable), true, false, false},
		{"disk full", pathErr(unix.ENOSPC), false, true, false},
		{"read-only for now", pathErr(unix.EROFS), false, true, false},
		{"I/O error", pathErr(unix.EIO), false, true, false},
		{"unknown", errors.New("something"), false, true, false},
		{"marked temporary", Temporary(pathErr(unix.ENOTDIR)), false, true, false},
		{"marked permanent", Permanent(pathErr(unix.ENOSPC)), true, false, false},
		{"gone", ErrGone, false, false, true},
		{"gone, wrapped", fmt.Errorf("lock: %w", ErrGone), false, false, true},
		{"missing path", pathErr(unix.ENOENT), false, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := IsPermanent(c.err); got != c.permanent {
				t.Errorf("IsPermanent = %v, want %v", got, c.permanent)
			}
			if got := IsTemporary(c.err); got != c.temporary {
				t.Errorf("IsTemporary = %v, want %v", got, c.temporary)
			}
			if got := IsGone(c.err); got != c.gone {
				t.Errorf("IsGone = %v, want %v", got, c.gone)
			}
			if c.gone && !c.temporary {
				return
			}
			var e *Error
			if cl := Classify(c.err); !errors.As(cl, &e) || e.Temporary == c.permanent || !errors.Is(cl, c.err) {
				t.Errorf("Classify = %#v, want marked temporary=%v around the error", cl, !c.permanent)
			}
		})
	}
}
