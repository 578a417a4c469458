package fsx

import (
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// DirSync makes renames durable by fsyncing the directories they changed.
// Marks gather in a set; Kick hands the set to a syncer goroutine that
// fsyncs each directory once and then takes whatever was marked meanwhile,
// until nothing is left. Renaming goes on while the disk works, and a
// batch of renames costs one fsync per directory, not one per message.
// Commit waits until every mark so far is durable, and closes the
// directories the syncer kept open.
//
// While no Commit waits, the syncer rests after each fsync as long as
// that fsync took (see rest).
type DirSync struct {
	Off bool // mdsweep -s: no directory fsync at all

	mu      sync.Mutex
	idle    *sync.Cond
	dirty   map[string]struct{}
	failed  map[string]struct{} // to try again at the next Kick
	running bool
	err     error
	waiting int           // Commits waiting: the syncer does not rest
	hurry   chan struct{} // ends a rest when a Commit begins to wait
	// restHook, set only by tests, replaces the rest's wait.
	restHook func(took time.Duration, hurry <-chan struct{})

	// fds keeps the directories open, so an fsync costs no open(2) and
	// close(2). Only the syncer goroutine uses it, one run at a time.
	fds   map[string]int
	stale []string // directories gone: their descriptors are dropped
}

// Forget drops the descriptors kept for dir and every directory below it:
// dir was removed or moved away (by hand), and one made again under its
// name must be synced through a descriptor of its own, not the old one's.
// A dir asked for already is not added again, so that asking every
// second while the syncer has nothing to do grows nothing.
func (d *DirSync) Forget(dir string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.stale {
		if s == dir {
			return
		}
	}
	d.stale = append(d.stale, dir)
}

// dropStale closes the descriptors Forget asked to drop. Only the
// goroutine that syncs (or Commit, once it is idle) touches d.fds.
func (d *DirSync) dropStale() {
	d.mu.Lock()
	stale := d.stale
	d.stale = nil
	d.mu.Unlock()
	for _, dir := range stale {
		for p, fd := range d.fds {
			if p == dir || strings.HasPrefix(p, dir+"/") {
				unix.Close(fd)
				delete(d.fds, p)
			}
		}
	}
}

// MaxSyncDirs bounds the descriptors the syncer keeps; past it, it closes
// them all and starts again (a site with more queues than that pays an
// open per fsync).
const MaxSyncDirs = 512

// Mark records that dir was changed.
func (d *DirSync) Mark(dir string) {
	if d.Off {
		return
	}
	d.mu.Lock()
	d.mark(dir)
	d.mu.Unlock()
}

func (d *DirSync) mark(dir string) {
	if d.dirty == nil {
		d.dirty = make(map[string]struct{})
	}
	d.dirty[dir] = struct{}{}
}

// Kick starts fsyncing what is marked, in the background, unless the
// syncer is running already (it takes the new marks when it is done).
func (d *DirSync) Kick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		return
	}
	for dir := range d.failed {
		d.mark(dir)
	}
	d.failed = nil
	if len(d.dirty) == 0 {
		return
	}
	d.running = true
	set := d.dirty
	d.dirty = nil
	if d.hurry == nil {
		d.hurry = make(chan struct{}, 1)
	}
	select {
	case <-d.hurry: // left by a Commit that found no rest to end
	default:
	}
	go d.loop(set)
}

func (d *DirSync) loop(set map[string]struct{}) {
	var took time.Duration // the last fsync's
	for {
		err := d.syncAll(set, &took)
		d.mu.Lock()
		if err != nil && d.err == nil {
			d.err = err
		}
		if len(d.dirty) == 0 {
			d.running = false
			if d.idle != nil {
				d.idle.Broadcast()
			}
			d.mu.Unlock()
			return
		}
		set = d.dirty
		d.dirty = nil
		d.mu.Unlock()
	}
}

// Commit fsyncs every marked directory and returns the first error since
// the last Commit. A directory whose fsync failed is tried again by the
// next Kick or Commit, not in a loop: a disk that fails now may not later.
func (d *DirSync) Commit() error {
	d.Kick()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		d.waiting++
		defer func() { d.waiting-- }()
		select {
		case d.hurry <- struct{}{}:
		default: // a wake-up is on its way already
		}
	}
	for d.running {
		if d.idle == nil {
			d.idle = sync.NewCond(&d.mu)
		}
		d.idle.Wait()
	}
	// Nothing should hold a file system busy after a Commit (an unmount,
	// a test's cleanup): close the kept directories. The syncer is not
	// running, and cannot start while we hold mu.
	for _, fd := range d.fds {
		unix.Close(fd)
	}
	clear(d.fds)
	d.stale = nil
	err := d.err
	d.err = nil
	return err
}

// Err returns, and clears, the first error of a background fsync.
func (d *DirSync) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.err
	d.err = nil
	return err
}

func (d *DirSync) syncAll(set map[string]struct{}, took *time.Duration) error {
	d.dropStale()
	var first error
	for dir := range set {
		d.rest(*took)
		start := time.Now()
		err := d.syncDir(dir)
		*took = time.Since(start)
		if err != nil {
			if first == nil {
				first = err
			}
			d.mu.Lock()
			if d.failed == nil {
				d.failed = make(map[string]struct{})
			}
			d.failed[dir] = struct{}{}
			d.mu.Unlock()
		}
	}
	return first
}

// rest waits as long as the last fsync took, unless a Commit waits for
// the syncer or begins to. Flat out through a backlog, the syncer would
// issue a directory fsync, and a flush of the disk's cache, every few
// hundred microseconds for as long as the backlog lasts, and each one's
// end wakes a thread that takes a CPU from a stage. On the bench's
// backlog with directory fsync, resting so cut the pipeline's time by
// 5 to 7%, bounded or not, and its CPU by 3 to 6%; with the fsyncs raw
// (fsyncRaw), the pipeline that did not rest took 9 to 11% longer than
// the one that did. Resting keeps the disk at most half busy with
// fsyncs that nobody waits for, and a hand-off durable within about
// twice a pass over the marked directories, well inside the seconds of
// hand-offs a crash of the system may undo (mdsweep(1), Durability).
func (d *DirSync) rest(took time.Duration) {
	if took <= 0 {
		return
	}
	d.mu.Lock()
	waiting, hurry := d.waiting > 0, d.hurry
	d.mu.Unlock()
	if waiting {
		return
	}
	if d.restHook != nil {
		d.restHook(took, hurry)
		return
	}
	t := time.NewTimer(took)
	select {
	case <-t.C:
	case <-hurry:
		t.Stop()
	}
}

func (d *DirSync) syncDir(dir string) error {
	fd, ok := d.fds[dir]
	if !ok {
		var err error
		fd, err = unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err == unix.ENOENT {
			// Removed (by hand): nothing there is left to make durable.
			return nil
		}
		if err != nil {
			return &os.PathError{Op: "open", Path: dir, Err: err}
		}
		if len(d.fds) >= MaxSyncDirs {
			for _, fd := range d.fds {
				unix.Close(fd)
			}
			clear(d.fds)
		}
		if d.fds == nil {
			d.fds = make(map[string]int)
		}
		d.fds[dir] = fd
	}
	fsync := unix.Fsync
	if runtime.GOMAXPROCS(0) > 1 {
		fsync = fsyncRaw
	}
	if err := fsync(fd); err != nil {
		// The directory may have been removed and made again: open
		// it afresh next time.
		unix.Close(fd)
		delete(d.fds, dir)
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}
