package watch

import (
	"context"
	"time"

	"mdpipe/internal/pipewait"

	"golang.org/x/sys/unix"
)

// Held is the set of claims one mdclaim holds (mdpipe(7), RULES: bounded
// claims). A claim is held from mdclaim's rename into cur/ until its name
// leaves cur/: handed off (renamed into a queue, or unlinked after a
// command or LMTP hand-off), parked (renamed to B:1,X) or returned to
// new/. Held learns that from inotify (IN_MOVED_FROM, IN_DELETE on
// cur/), whatever the stages after mdclaim are and however much they
// read ahead; without inotify it looks each held name up instead.
//
// The events are not free: each is made inside the rename that moves a
// claim on, under the lock that orders every rename between directories
// of the file system, so the claims and the other hand-offs wait for it
// too; a watch that nobody read cost the unbounded pipeline about 4% of
// its speed on the bench. Looking up the oldest names instead, while
// claims are going, cost far more: the pipeline took 1.4 times as long,
// its mdclaim making 20,000 look-ups of names gone from cur/, each a
// search of the directory that every claim and hand-off holds locked for
// its rename.
type Held struct {
	dirfd int // cur/, for the look-ups
	fd    int // inotify descriptor, or -1
	names map[string]struct{}
	buf   [16 << 10]byte
}

// coalesceHeld is how long a wait at the bound lets claims go before it
// looks again, once they are going: at full speed a handful of hand-offs,
// far fewer than the quarter of the bound a refill waits for. On the
// bench's backlog 100 µs was no faster, 50 µs cost more CPU in wake-ups,
// and 1 ms was slower (by wall time; where its time went was not traced).
const coalesceHeld = 250 * time.Microsecond

// pollHeld is how often a Held without inotify looks its names up.
const pollHeld = 50 * time.Millisecond

// NewHeld watches the directory cur. If inotify cannot be had, the Held
// looks names up instead, and the error says why.
func NewHeld(cur string) (*Held, error) {
	dirfd, err := unix.Open(cur, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	h := &Held{dirfd: dirfd, fd: -1, names: make(map[string]struct{})}
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return h, err
	}
	if _, err := unix.InotifyAddWatch(fd, cur, unix.IN_MOVED_FROM|unix.IN_DELETE|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return h, err
	}
	h.fd = fd
	return h, nil
}

// Add records a claim, by its name in cur/, before its path is written
// downstream.
func (h *Held) Add(name string) { h.names[name] = struct{}{} }

// Len returns how many claims are held, as far as Update has learnt.
func (h *Held) Len() int { return len(h.names) }

// Update takes in, without waiting, the claims that have left cur/.
func (h *Held) Update() {
	if h.fd < 0 {
		h.lookUp()
		return
	}
	h.read()
}

// Wait returns once at most below claims are held, or after timeout
// (negative: no limit). If outFd is a pipe (not -1) whose reader has
// gone, it returns true at once. It returns false at once when ctx is
// done (a stop).
func (h *Held) Wait(ctx context.Context, below int, timeout time.Duration, outFd int) (downstreamGone bool) {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	last := -1
	for {
		h.Update()
		if len(h.names) <= below {
			return false
		}
		wait := time.Duration(-1)
		if !deadline.IsZero() {
			if wait = time.Until(deadline); wait <= 0 {
				return false
			}
		}
		fd := h.fd
		if fd < 0 && (wait < 0 || wait > pollHeld) {
			wait = pollHeld
		}
		if fd >= 0 && last >= 0 && len(h.names) < last {
			// Claims are going, but not yet enough: each hand-off is an
			// event, and waking for each cost mdclaim a wake-up for
			// every two or three messages at full speed. Let a few
			// come, then look again; once none came, wait for the next
			// event as before, so an idle pipeline costs nothing.
			fd = -1
			if wait < 0 || wait > coalesceHeld {
				wait = coalesceHeld
			}
		}
		last = len(h.names)
		err := pipewait.Readable(ctx, fd, outFd, wait)
		if err == pipewait.ErrDownstreamGone {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
	}
}

// read takes in the queued events.
func (h *Held) read() {
	ReadEvents(h.fd, h.buf[:], func(name []byte, overflow bool) {
		if overflow {
			// Events were lost: ask the file system.
			h.lookUp()
			return
		}
		delete(h.names, string(name)) // no allocation: the compiler sees the conversion
	})
}

// lookUp drops the names that are no longer in cur/.
func (h *Held) lookUp() {
	var st unix.Stat_t
	for name := range h.names {
		if err := unix.Fstatat(h.dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == unix.ENOENT {
			delete(h.names, name)
		}
	}
}

// Close releases the descriptors.
func (h *Held) Close() error {
	if h == nil {
		return nil
	}
	if h.fd >= 0 {
		unix.Close(h.fd)
	}
	return unix.Close(h.dirfd)
}
