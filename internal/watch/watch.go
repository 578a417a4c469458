// Package watch wakes mdclaim when mail is delivered into new/: through
// inotify (the MTA's rename into new/ is IN_MOVED_TO, a link() is
// IN_CREATE), or, where inotify is unavailable, by polling. Waiting uses
// no CPU: the process sleeps in poll(2) until an event or the timeout.
package watch

import (
	"context"
	"errors"
	"time"

	"mdpipe/internal/pipewait"

	"golang.org/x/sys/unix"
)

// PollInterval is how often a watcher without inotify looks again.
const PollInterval = time.Second

// Watcher waits for deliveries into one directory.
type Watcher struct {
	fd  int // inotify descriptor, or -1 when polling
	buf [4096]byte
}

// New watches dir. If inotify cannot be had (no kernel support, the
// per-user instance or watch limit reached), the Watcher polls instead and
// Err says why.
func New(dir string) (*Watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return &Watcher{fd: -1}, err
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO|unix.IN_CREATE|unix.IN_ONLYDIR); err != nil {
		unix.Close(fd)
		return &Watcher{fd: -1}, err
	}
	return &Watcher{fd: fd}, nil
}

// Polling reports whether the watcher fell back to polling.
func (w *Watcher) Polling() bool { return w.fd < 0 }

// Wait returns when something was delivered, or after timeout (the safety
// rescan), whichever is first. Events that arrived while the caller was
// scanning wake it at once, so a delivery during a scan is never missed.
// If outFd is a pipe (not -1) whose reader has gone, Wait returns true at
// once: the pipeline has lost a stage and this tool should exit too. It
// returns at once, too, when ctx is done (a stop).
func (w *Watcher) Wait(ctx context.Context, timeout time.Duration, outFd int) (downstreamGone bool) {
	if w.fd < 0 && (timeout < 0 || timeout > PollInterval) {
		timeout = PollInterval
	}
	// poll(2) ignores a negative descriptor: without inotify this is a
	// sleep that still watches outFd.
	err := pipewait.Readable(ctx, w.fd, outFd, timeout)
	if w.fd >= 0 {
		w.drain()
	}
	return errors.Is(err, pipewait.ErrDownstreamGone)
}

// drain reads all queued events; which files they name does not matter,
// since the caller rescans the directory.
func (w *Watcher) drain() {
	for {
		n, err := unix.Read(w.fd, w.buf[:])
		if n <= 0 || err != nil {
			return
		}
	}
}

// Close releases the inotify descriptor.
func (w *Watcher) Close() error {
	if w.fd < 0 {
		return nil
	}
	return unix.Close(w.fd)
}
