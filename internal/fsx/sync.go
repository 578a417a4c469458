package fsx

import (
	"os"

	"golang.org/x/sys/unix"
)

// DirSync collects the directories a batch of renames changed and fsyncs
// each once (Commit). The renames of one batch then cost one fsync per
// directory, not one per message.
type DirSync struct {
	Off   bool // -s: no directory fsync at all
	dirty map[string]struct{}
}

// Mark records that dir was changed.
func (d *DirSync) Mark(dir string) {
	if d.Off {
		return
	}
	if d.dirty == nil {
		d.dirty = make(map[string]struct{})
	}
	d.dirty[dir] = struct{}{}
}

// Pending reports whether a Commit has work to do.
func (d *DirSync) Pending() bool { return len(d.dirty) > 0 }

// Commit fsyncs every marked directory. It returns the first error and
// keeps the directories that failed marked, to be tried again.
func (d *DirSync) Commit() error {
	var first error
	for dir := range d.dirty {
		if err := SyncDir(dir); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		delete(d.dirty, dir)
	}
	return first
}

// SyncDir fsyncs a directory, making the renames in it durable.
func SyncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}
