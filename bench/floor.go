package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"time"

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
//
// With -split it is the split floor: the same work as the floor, split
// as the pipeline splits it, claims on one thread and the rest on
// another, with at most splitBound claims between them. It costs nothing
// the floor does not, no process, pipe or check, so it is what splitting
// this work over two CPUs gains or loses on a machine. It is a
// yardstick, not a ceiling: the pipeline without fsync, bounded and
// not, has drained faster than it. Besides the rename lock both share
// (mdpipe(7), Flow control), its threads hand over each claim on its
// own: 0.6 to 0.7 context switches a message, against the pipeline's
// 0.2 to 0.25.
func floorMain(args []string) int {
	mode := ""
	if len(args) > 0 && (args[0] == "-durable" || args[0] == "-split") {
		mode, args = args[0], args[1:]
	}
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mdbench floor [-durable | -split] intake queue")
		return 100
	}
	var err error
	if mode == "-split" {
		err = splitFloor(args[0], args[1])
	} else {
		err = floor(args[0], args[1], mode == "-durable")
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mdbench floor: %v\n", err)
		return 111
	}
	return 0
}

// floorRun is what a floor keeps open: the intake's new/ and cur/, and
// the new/ of each queue it has handed off to.
type floorRun struct {
	newFd, curFd int
	queue        string
	queues       map[string]int // LIST/SUBQUEUE -> descriptor of its new/
	hdr          []byte
}

func openFloor(intake, queue string) (*floorRun, error) {
	newFd, err := unix.Open(filepath.Join(intake, "new"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	curFd, err := unix.Open(filepath.Join(intake, "cur"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &floorRun{newFd: newFd, curFd: curFd, queue: queue, queues: make(map[string]int), hdr: make([]byte, 8<<10)}, nil
}

// claimAll claims every message of new/, in the order getdents gives
// them, and passes each name on once it is claimed.
func (f *floorRun) claimAll(claimed func(name string) error) error {
	dents := make([]byte, 64<<10)
	var names []string
	for {
		n, err := unix.Getdents(f.newFd, dents)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		_, _, names = unix.ParseDirent(dents[:n], -1, names[:0])
		for _, name := range names {
			if err := unix.Renameat2(f.newFd, name, f.curFd, name+":1,P", unix.RENAME_NOREPLACE); err != nil {
				return fmt.Errorf("claim %s: %v", name, err)
			}
			if err := claimed(name); err != nil {
				return err
			}
		}
	}
}

// handOff reads the header of name's claim, routes it, and renames it
// into its queue's new/, whose descriptor it returns.
func (f *floorRun) handOff(name string) (int, error) {
	claim := name + ":1,P"
	fd, err := unix.Openat(f.curFd, claim, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	m, err := unix.Read(fd, f.hdr)
	unix.Close(fd)
	if err != nil {
		return -1, err
	}
	dest, ok := floorRoute(f.hdr[:m])
	if !ok {
		return -1, fmt.Errorf("%s: no recipient", name)
	}
	q, ok := f.queues[string(dest)]
	if !ok {
		dir := filepath.Join(f.queue, string(dest))
		if err := makeMaildir(dir); err != nil {
			return -1, err
		}
		if q, err = unix.Open(filepath.Join(dir, "new"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
			return -1, err
		}
		f.queues[string(dest)] = q
	}
	if err := unix.Renameat2(f.curFd, claim, q, name, unix.RENAME_NOREPLACE); err != nil {
		return -1, fmt.Errorf("hand off %s: %v", name, err)
	}
	return q, nil
}

func floor(intake, queue string, durable bool) error {
	f, err := openFloor(intake, queue)
	if err != nil {
		return err
	}
	var syncer dirSyncer
	batch := 0
	err = f.claimAll(func(name string) error {
		q, err := f.handOff(name)
		if err != nil || !durable {
			return err
		}
		syncer.mark(q)
		syncer.mark(f.curFd)
		if batch++; batch == syncBatch {
			batch = 0
			syncer.kick()
		}
		return nil
	})
	if err != nil || !durable {
		return err
	}
	return syncer.commit()
}

// splitBound is how many claims the split floor's claiming thread may
// be ahead of the other: the bound of mdclaim -k 64.
const splitBound = 64

// splitFloor is the floor with its claims made on a thread of their own
// (see floorMain).
func splitFloor(intake, queue string) error {
	f, err := openFloor(intake, queue)
	if err != nil {
		return err
	}
	claimed := make(chan string, splitBound)
	stop := make(chan struct{})
	claimErr := make(chan error, 1)
	go func() {
		claimErr <- f.claimAll(func(name string) error {
			select {
			case claimed <- name:
				return nil
			case <-stop:
				return errors.New("hand-off failed")
			}
		})
		close(claimed)
	}()
	for name := range claimed {
		if _, err := f.handOff(name); err != nil {
			close(stop)
			return err
		}
	}
	return <-claimErr
}

// syncBatch is mdsweep's bound on a batch under a steady backlog: it
// commits (starts the fsyncs) after at most that many hand-offs.
const syncBatch = 256

// dirSyncer fsyncs directories as mdsweep's maildir hand-off does: each
// hand-off marks the queue's new/ and the intake's cur/; a commit hands
// the marked set to one background goroutine, which fsyncs each
// directory once and then takes whatever was marked meanwhile, while
// the renames go on, resting after each fsync as long as it took while
// nothing waits for it. A commit while it runs adds nothing but marks.
// The end of the intake waits until every mark is durable, as mdsweep's
// close does, and ends the rests.
type dirSyncer struct {
	mu      sync.Mutex
	idle    *sync.Cond
	dirty   map[int]struct{}
	running bool
	waiting bool
	hurry   chan struct{}
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
	if d.hurry == nil {
		d.hurry = make(chan struct{}, 1)
	}
	go d.loop(set)
}

func (d *dirSyncer) loop(set map[int]struct{}) {
	var took time.Duration
	for {
		for fd := range set {
			d.rest(took)
			start := time.Now()
			err := fsyncRaw(fd)
			took = time.Since(start)
			if err != nil {
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

// fsyncRaw is fsync(2) made as mdsweep's syncer makes it (fsx/raw.go):
// on more than one processor, without telling the Go scheduler, whose
// monitor would otherwise wake every 20 µs while the fsyncs go on.
func fsyncRaw(fd int) error {
	if runtime.GOMAXPROCS(0) == 1 {
		return unix.Fsync(fd)
	}
	for {
		_, _, e := unix.RawSyscall(unix.SYS_FSYNC, uintptr(fd), 0, 0)
		if e != unix.EINTR {
			if e != 0 {
				return e
			}
			return nil
		}
	}
}

// rest is fsx.DirSync's: as long as the last fsync took, unless the
// commit waits.
func (d *dirSyncer) rest(took time.Duration) {
	d.mu.Lock()
	waiting := d.waiting
	d.mu.Unlock()
	if took <= 0 || waiting {
		return
	}
	t := time.NewTimer(took)
	select {
	case <-t.C:
	case <-d.hurry:
		t.Stop()
	}
}

// commit waits until every directory marked so far is fsynced.
func (d *dirSyncer) commit() error {
	d.kick()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.running {
		d.waiting = true
		select {
		case d.hurry <- struct{}{}:
		default:
		}
	}
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
