package handoff

import (
	"time"

	"mdpipe/internal/intake"

	"golang.org/x/sys/unix"
)

// claimDir is the intake's cur/ that the last claims came from, kept
// open so that the check and the rename of each hand-off name the claim
// by one component relative to it: walking each claim's whole path twice
// was a twentieth of a streaming mdsweep's time. Like a destination
// (current), it is trusted for reopenEvery and then looked up by its
// name again, so that an intake moved away and made anew is followed
// within a second; a claim renamed meanwhile from the directory open is
// still one of ours, named by its own record.
type claimDir struct {
	path    string // Claim.Cur, as the records give it
	fd      int    // open when path != ""
	id      fileID
	checked time.Time // last found under path
	used    time.Time // last used for a claim
}

// of returns the directory and the name under which to reach c: c's cur/
// open and c's name in it, or, if cur/ cannot be opened, AT_FDCWD and
// c's whole path, and the calls on it say why.
func (d *claimDir) of(c intake.Claim, now time.Time) (dirfd int, name string) {
	if d.path != c.Cur || !d.current(now) {
		d.close()
		d.open(c.Cur, now)
	}
	if d.path == "" {
		return unix.AT_FDCWD, c.Path
	}
	d.used = now
	return d.fd, c.Base + intake.ClaimInfo
}

// current reports whether the open directory is still the one its name
// leads to.
func (d *claimDir) current(now time.Time) bool {
	if now.Sub(d.checked) < reopenEvery {
		return true
	}
	var st unix.Stat_t
	if unix.Stat(d.path, &st) != nil || (fileID{st.Dev, st.Ino}) != d.id {
		return false
	}
	d.checked = now
	return true
}

func (d *claimDir) open(path string, now time.Time) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		unix.Close(fd)
		return
	}
	*d = claimDir{path: path, fd: fd, id: fileID{st.Dev, st.Ino}, checked: now, used: now}
}

// close closes the directory, if one is open.
func (d *claimDir) close() {
	if d.path != "" {
		unix.Close(d.fd)
	}
	*d = claimDir{}
}

// idle closes the directory if no claim used it for reopenEvery: an idle
// mdsweep keeps no directory of the intake open (an unmount).
func (d *claimDir) idle(now time.Time) {
	if d.path != "" && now.Sub(d.used) >= reopenEvery {
		d.close()
	}
}
