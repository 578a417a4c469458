package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// floorMain is the floor: one process that does, per message, only the
// system calls no correct intake runner can avoid: read the directory
// (getdents, amortised over many names), rename to claim, open, read the
// header (one read), close, rename into the queue. It keeps directory
// descriptors so the kernel resolves one name, not a path, per call, and
// it neither sorts, logs, checks file types, nor fsyncs. It shares no code
// with mdpipe on purpose: it is the yardstick, not another implementation.
//
// With -durable it is the durable floor: the same, plus the directory
// fsyncs that make the hand-offs durable, batched as mdsweep batches
// them (see dirSyncer), so that a pipeline that fsyncs is compared with
// a yardstick that does the same durable work.
func floorMain(args []string) int {
	durable := len(args) > 0 && args[0] == "-durable"
	if durable {
		args = args[1:]
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mdbench floor [-durable] intake queue")
		return 100
	}
	if err := floor(args[0], args[1], durable); err != nil {
		fmt.Fprintf(os.Stderr, "mdbench floor: %v\n", err)
		return 111
	}
	return 0
}

func floor(intake, queue string, durable bool) error {
	newFd, err := unix.Open(filepath.Join(intake, "new"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	curFd, err := unix.Open(filepath.Join(intake, "cur"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	queues := make(map[string]int) // LIST/SUBQUEUE -> descriptor of its new/
	dents := make([]byte, 64<<10)
	hdr := make([]byte, 8<<10)
	var names []string
	var syncer dirSyncer
	batch := 0
	for {
		n, err := unix.Getdents(newFd, dents)
		if err != nil {
			return err
		}
		if n == 0 {
			if durable {
				return syncer.commit()
			}
			return nil
		}
		_, _, names = unix.ParseDirent(dents[:n], -1, names[:0])
		for _, name := range names {
			claim := name + ":1,P"
			if err := unix.Renameat2(newFd, name, curFd, claim, unix.RENAME_NOREPLACE); err != nil {
				return fmt.Errorf("claim %s: %v", name, err)
			}
			fd, err := unix.Openat(curFd, claim, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			m, err := unix.Read(fd, hdr)
			unix.Close(fd)
			if err != nil {
				return err
			}
			dest, ok := floorRoute(hdr[:m])
			if !ok {
				return fmt.Errorf("%s: no recipient", name)
			}
			q, ok := queues[string(dest)]
			if !ok {
				dir := filepath.Join(queue, string(dest))
				if err := makeMaildir(dir); err != nil {
					return err
				}
				if q, err = unix.Open(filepath.Join(dir, "new"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
					return err
				}
				queues[string(dest)] = q
			}
			if err := unix.Renameat2(curFd, claim, q, name, unix.RENAME_NOREPLACE); err != nil {
				return fmt.Errorf("hand off %s: %v", name, err)
			}
			if durable {
				syncer.mark(q)
				syncer.mark(curFd)
				if batch++; batch == syncBatch {
					batch = 0
					syncer.kick()
				}
			}
		}
	}
}

// syncBatch is mdsweep's bound on a batch under a steady backlog: it
// commits (starts the fsyncs) after at most that many hand-offs.
const syncBatch = 256

// dirSyncer fsyncs directories as mdsweep's maildir hand-off does: each
// hand-off marks the queue's new/ and the intake's cur/; a commit hands
// the marked set to one background goroutine, which fsyncs each
// directory once and then takes whatever was marked meanwhile, while
// the renames go on. A commit while it runs adds nothing but marks. The
// end of the intake waits until every mark is durable, as mdsweep's
// close does.
type dirSyncer struct {
	mu      sync.Mutex
	idle    *sync.Cond
	dirty   map[int]struct{}
	running bool
	err     error
}

func (d *dirSyncer) mark(fd int) {
	d.mu.Lock()
	if d.dirty == nil {
		d.dirty = make(map[int]struct{})
	}
	d.dirty[fd] = struct{}{}
	d.mu.Unlock()
}

func (d *dirSyncer) kick() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running || len(d.dirty) == 0 {
		return
	}
	d.running = true
	set := d.dirty
	d.dirty = nil
	go d.loop(set)
}

func (d *dirSyncer) loop(set map[int]struct{}) {
	for {
		for fd := range set {
			if err := unix.Fsync(fd); err != nil {
				d.mu.Lock()
				d.err = fmt.Errorf("fsync: %v", err)
				d.mu.Unlock()
			}
		}
		d.mu.Lock()
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

// commit waits until every directory marked so far is fsynced.
func (d *dirSyncer) commit() error {
	d.kick()
	d.mu.Lock()
	defer d.mu.Unlock()
	for d.running {
		if d.idle == nil {
			d.idle = sync.NewCond(&d.mu)
		}
		d.idle.Wait()
	}
	return d.err
}

// subqueues maps a list address suffix to its canonical subqueue.
var subqueues = map[string]string{
	"bounces": "bounces", "admin": "bounces", "confirm": "confirm", "join": "join",
	"subscribe": "join", "leave": "leave", "unsubscribe": "leave", "owner": "owner", "request": "request",
}

// floorRoute returns LIST/SUBQUEUE from the topmost X-Original-To or
// Delivered-To field: the least routing any router must do.
func floorRoute(hdr []byte) ([]byte, bool) {
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line, hdr = hdr[:i], hdr[i+1:]
		} else {
			hdr = nil
		}
		if len(line) == 0 {
			break
		}
		var v []byte
		switch {
		case len(line) > 14 && bytes.EqualFold(line[:14], []byte("X-Original-To:")):
			v = line[14:]
		case len(line) > 13 && bytes.EqualFold(line[:13], []byte("Delivered-To:")):
			v = line[13:]
		default:
			continue
		}
		v = bytes.ToLower(bytes.TrimSpace(v))
		at := bytes.IndexByte(v, '@')
		if at < 0 {
			return nil, false
		}
		local := v[:at]
		if plus := bytes.IndexByte(local, '+'); plus >= 0 {
			local = local[:plus]
		}
		sub := "post"
		if dash := bytes.LastIndexByte(local, '-'); dash > 0 {
			if s, ok := subqueues[string(local[dash+1:])]; ok {
				local, sub = local[:dash], s
			}
		}
		return append(append(local, '/'), sub...), true
	}
	return nil, false
}
