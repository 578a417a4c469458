package intake

import (
	"errors"
	"fmt"
	"path/filepath"

	"mdpipe/internal/fsx"
	"mdpipe/internal/reason"

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
func Fail(path string) (string, error) { return FailWith(path, "") }

// FailWith is Fail that keeps why with the parked message (package
// reason), written before the rename so that an X never lacks the reason
// it was parked with. An empty why removes the reason of an earlier park.
// The caller fsyncs cur/ after, which makes both durable.
func FailWith(path, why string) (string, error) {
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
	if why != "" {
		err = reason.Write(c.Cur, c.Base, why)
	} else {
		err = reason.Remove(c.Cur, c.Base)
	}
	if err != nil {
		return "", err
	}
	x := c.FailPath()
	err = fsx.Rename(path, x)
	if err != nil && why != "" && !fsx.IsExist(err) && !(fsx.IsNotExist(err) && exists(x)) {
		reason.Remove(c.Cur, c.Base) // not parked: the reason is no one's
	}
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
		if fsx.IsNotExist(err) && exists(x) {
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
