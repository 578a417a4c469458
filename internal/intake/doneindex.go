package intake

import (
	"io/fs"
	"mdpipe/internal/watch"
	"strings"

	"golang.org/x/sys/unix"
)

// DoneIndex answers ReadDone for a streaming mdsweep without a system
// call for the messages that were never deferred, which is almost all of
// them. Asking the file system each time (an open(2) of cur/.B.done that
// fails) cost a third of a hand-off, and left a negative dentry behind
// for every message; on the bench the other tools' look-ups were slower
// for it too.
//
// It learns which cur/.B.done files exist from one read of cur/ and,
// from then on, from inotify: a list of destinations is always written
// through a file of its own made in cur/ (.B.done.tmp, see Claim.Defer),
// and making a file there is an IN_CREATE event, queued before the
// create returns. A message is claimed back from the deferred state only
// after that, and its record reaches mdsweep after the claim, so the
// event is always queued by the time its hand-off asks. Claims arrive in
// cur/ by rename, which IN_CREATE does not report: the events stay few.
// A .B.done moved into cur/ by hand while mdsweep runs is not seen until
// its next start (mdpipe(7), the deferred state).
//
// With Reads set (the reads of mdsweep's input so far, cli.Input.Reads),
// the events are taken in once after each read of the input, not at each
// hand-off: a record is written after its claim was made, so whatever
// event came before the claim is queued by the time a read returns the
// record.
//
// The first hand-off from a cur/ asks the file system, as ReadDone does,
// so a one-message mdsweep (the shell loop) never reads cur/; the index
// starts with the second. Without inotify, or once events were lost, it
// asks the file system each time.
type DoneIndex struct {
	dirs map[string]*doneDir
	// Reads, if set, counts the reads of the input the claims come
	// from.
	Reads func() int
	// Asked counts the look-ups made on the file system, for the tests.
	Asked int
	// unwatched are the inotify descriptors whose watch Unwatch removed,
	// for Close.
	unwatched []int
}

// doneDir is the index of one cur/.
type doneDir struct {
	uses  int
	fd    int                 // inotify, -1 before the second use and when it failed
	wd    int                 // the watch on cur/
	maybe map[string]struct{} // bases that have, or had, a list of destinations
	buf   []byte
	reads int // Reads when the events were taken in last
}

// ReadDone is c.ReadDone, answered from the index when it can be.
func (x *DoneIndex) ReadDone(c Claim) ([]Dest, bool, error) {
	d := x.dir(c.Cur)
	if d.fd >= 0 {
		if x.Reads == nil {
			d.update()
		} else if n := x.Reads(); n != d.reads {
			d.reads = n
			d.update()
		}
	}
	if d.fd < 0 {
		x.Asked++
		return c.ReadDone()
	}
	if _, ok := d.maybe[c.Base]; !ok {
		return nil, false, nil
	}
	x.Asked++
	done, deferred, err := c.ReadDone()
	if err == nil && !deferred {
		delete(d.maybe, c.Base) // forgotten since
	}
	return done, deferred, err
}

// dir returns the index of cur, starting its watch at the second use.
func (x *DoneIndex) dir(cur string) *doneDir {
	if x.dirs == nil {
		x.dirs = make(map[string]*doneDir)
	}
	d := x.dirs[cur]
	if d == nil {
		d = &doneDir{fd: -1}
		x.dirs[cur] = d
	}
	if d.uses++; d.uses == 2 {
		d.start(cur)
	}
	return d
}

// start watches cur for files made there, then reads it once for the
// lists of destinations already there (in that order: one made between
// the two is seen either way).
func (d *doneDir) start(cur string) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return
	}
	wd, err := unix.InotifyAddWatch(fd, cur, unix.IN_CREATE|unix.IN_ONLYDIR)
	if err != nil {
		unix.Close(fd)
		return
	}
	dirfd, err := openDir(cur)
	if err != nil {
		unix.Close(fd)
		return
	}
	defer unix.Close(dirfd)
	d.maybe = make(map[string]struct{})
	_, _, err = oldest(cur, dirfd, 1<<30, func(name string, _ fs.FileMode) bool {
		if b, ok := doneBase(name); ok {
			d.maybe[b] = struct{}{}
		}
		return false
	})
	if err != nil {
		unix.Close(fd)
		return
	}
	d.fd, d.wd = fd, wd
	d.buf = make([]byte, 16<<10)
}

// update takes in the files made in cur/ since the last call. Once
// events were lost, or could not be read, the index gives up, and every
// later call asks the file system.
func (d *doneDir) update() {
	lost := false
	err := watch.ReadEvents(d.fd, d.buf, func(name []byte, overflow bool) {
		if overflow {
			lost = true
		} else if base, ok := doneBase(string(name)); ok {
			d.maybe[base] = struct{}{}
		}
	})
	if err != nil || lost {
		d.stop()
	}
}

func (d *doneDir) stop() {
	unix.Close(d.fd)
	d.fd = -1
	d.maybe = nil
}

// Unwatch ends the index: the watches are removed, and every later
// ReadDone asks the file system. Their descriptors stay open until Close.
// The kernel frees a removed watch after a grace period of its own
// (fsnotify's mark reaper), and closing an inotify descriptor whose
// watch is not freed yet waits for it: 10 to 15 ms where it was
// measured, at the very end of a run. Unwatch, then the rest of the
// caller's teardown, then Close, lets that wait pass meanwhile.
func (x *DoneIndex) Unwatch() {
	for _, d := range x.dirs {
		if d.fd >= 0 {
			unix.InotifyRmWatch(d.fd, uint32(d.wd))
			x.unwatched = append(x.unwatched, d.fd)
			d.fd, d.maybe = -1, nil
		}
	}
}

// Close releases the watches.
func (x *DoneIndex) Close() {
	x.Unwatch()
	for _, fd := range x.unwatched {
		unix.Close(fd)
	}
	x.unwatched = nil
}

// doneBase returns B of a list of destinations' name, .B.done or the
// .B.done.tmp it is written through.
func doneBase(name string) (string, bool) {
	if !strings.HasPrefix(name, ".") {
		return "", false
	}
	s := strings.TrimSuffix(name[1:], ".tmp")
	if !strings.HasSuffix(s, ".done") {
		return "", false
	}
	return strings.TrimSuffix(s, ".done"), true
}
