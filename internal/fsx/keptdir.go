package fsx

import (
	"time"

	"golang.org/x/sys/unix"
)

// KeptDir is a directory kept open, so that each call on a file in it
// names the file by one component relative to it: the kernel then walks
// one name for each message, not every directory of its path. For the
// intake's cur/, walking each claim's whole path was a twentieth of a
// streaming mdsweep's time; kept open, it cut mdroute's CPU a message by
// 2 to 5% on the bench's short paths.
//
// It follows the directory by name: it is trusted for KeptFor and then
// looked up by its path again, so that a directory moved away and made
// anew (an admin rebuilding the intake) is followed within that time, and
// at once by a caller that, finding no file through it, calls Expire and
// tries again.
type KeptDir struct {
	path     string // "" when none is open
	fd       int
	dev, ino uint64
	checked  time.Time // last found under path
	used     time.Time // last used
}

// KeptFor bounds how long a KeptDir is trusted before it is looked up by
// its path again, and how long one that no call used stays open.
const KeptFor = time.Second

// At returns a descriptor of the directory path: the one kept open if
// path still leads to it, or else path opened anew. It returns -1 if path
// cannot be opened as a directory; the caller then names its file by its
// whole path, and that call says why.
func (d *KeptDir) At(path string, now time.Time) int {
	if d.path != path || !d.current(now) {
		d.Close()
		d.open(path, now)
	}
	if d.path == "" {
		return -1
	}
	d.used = now
	return d.fd
}

// Path returns the path of the directory kept open, or "".
func (d *KeptDir) Path() string { return d.path }

// Expire makes the next At look the directory up by its path again, and
// the next Idle close it.
func (d *KeptDir) Expire() {
	d.checked, d.used = time.Time{}, time.Time{}
}

// Idle closes the directory if no call used it for KeptFor: an idle tool
// keeps no directory of the intake open (an unmount).
func (d *KeptDir) Idle(now time.Time) {
	if d.path != "" && now.Sub(d.used) >= KeptFor {
		d.Close()
	}
}

// Close closes the directory, if one is open.
func (d *KeptDir) Close() {
	if d.path != "" {
		unix.Close(d.fd)
	}
	*d = KeptDir{}
}

// current reports whether the open directory is still the one its path
// leads to.
func (d *KeptDir) current(now time.Time) bool {
	if now.Sub(d.checked) < KeptFor {
		return true
	}
	var st unix.Stat_t
	if unix.Stat(d.path, &st) != nil || st.Dev != d.dev || st.Ino != d.ino {
		return false
	}
	d.checked = now
	return true
}

func (d *KeptDir) open(path string, now time.Time) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		unix.Close(fd)
		return
	}
	*d = KeptDir{path: path, fd: fd, dev: st.Dev, ino: st.Ino, checked: now, used: now}
}
