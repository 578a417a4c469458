package intake

import (
	"errors"
	"fmt"
	"path/filepath"

	"mdpipe/internal/fault"

	"mdpipe/internal/fsx"

	"golang.org/x/sys/unix"
)

// ErrParked says the claim was parked already: the call is a no-op.
var ErrParked = errors.New("parked already")

// ErrNotInMaildir says a claim name lies in a cur/ that is not a
// maildir's: nothing there is an intake's claim, so nothing is parked.
var ErrNotInMaildir = errors.New("not in a maildir's cur/ (no new/ and tmp/ beside it)")

// Fail parks a claim: cur/B:1,P -> cur/B:1,X by one no-replace rename. It
// returns the X path. Anything that is not a claim is refused untouched,
// and so is a claim name in a cur/ with no new/ and tmp/ beside it.
// A claim that is gone while its X exists was parked already (ErrParked).
func Fail(path string) (string, error) {
	c, err := ParseClaim(path)
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		if err == unix.ENOENT && exists(c.FailPath()) {
			return c.FailPath(), ErrParked
		}
		return "", err
	}
	for _, d := range []string{"new", "tmp"} {
		var ds unix.Stat_t
		if unix.Stat(filepath.Join(c.Maildir, d), &ds) != nil || ds.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", ErrNotInMaildir
		}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", fmt.Errorf("%w (%s)", fsx.ErrNotRegular, fsx.KindOf(st.Mode))
	}
	x := c.FailPath()
	err = fsx.Rename(path, x)
	if fsx.IsExist(err) {
		// Both names exist: a link+unlink fallback was cut short between
		// its two calls. The same inode means the park is done but for the
		// unlink; finish it. Another file is two messages with one name.
		var xs unix.Stat_t
		if unix.Lstat(x, &xs) == nil && xs.Ino == st.Ino && xs.Dev == st.Dev {
			if err := unix.Unlink(path); err != nil && err != unix.ENOENT {
				return "", err
			}
			return x, ErrParked
		}
		return "", fmt.Errorf("%s exists already and holds another message", x)
	}
	if err != nil {
		if fault.IsGone(err) && exists(x) {
			return x, ErrParked
		}
		return "", unwrapPath(err)
	}
	return x, nil
}

func exists(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil
}
