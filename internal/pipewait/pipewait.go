// Package pipewait waits for input while it watches the pipe downstream:
// a tool that waits for mail must still notice at once that the tool after
// it in the pipeline has exited. Both the tools' input and the watch of a
// maildir wait this way.
package pipewait

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrDownstreamGone says the tool after us in the pipeline exited: there
// is no one to pass records to, so this tool exits too, and the whole
// pipeline ends for its supervisor to restart.
var ErrDownstreamGone = errors.New("the next tool in the pipeline has exited")

// ErrTimeout says a wait with a timeout ended with nothing to read.
var ErrTimeout = errors.New("timed out")

// Readable blocks until fd is readable (then it returns nil), timeout
// (negative: no limit) has passed (ErrTimeout), or ctx is done (ctx's
// error), and returns ErrDownstreamGone if meanwhile the pipe outFd (if
// not -1) lost its reader. A negative fd is not waited on: that is a sleep that still
// watches outFd and ctx.
func Readable(ctx context.Context, fd, outFd int, timeout time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	gone := -1
	if outFd >= 0 {
		// A pipe's write end reports POLLERR once no reader is left;
		// that needs no requested events.
		gone = len(fds)
		fds = append(fds, unix.PollFd{Fd: int32(outFd)})
	}
	woken := -1
	if ctx.Done() != nil {
		// poll(2) cannot wait on a channel: a pipe whose write end is
		// closed when ctx is done wakes it instead.
		w, err := wakerOf(ctx)
		if err != nil {
			return err
		}
		defer w.release()
		woken = len(fds)
		fds = append(fds, unix.PollFd{Fd: int32(w.r), Events: unix.POLLIN})
	}
	// The first rawWait of the wait is a raw ppoll (see rawWait), the
	// rest, if any, a ppoll the scheduler knows of.
	first := rawWait
	if timeout >= 0 && timeout < first {
		first = timeout
	}
	t := unix.NsecToTimespec(int64(first))
	n, err := poll(fds, &t, ppollRaw)
	if n == 0 && err == nil && timeout != first {
		var ts *unix.Timespec
		if timeout >= 0 {
			t = unix.NsecToTimespec(int64(timeout - first))
			ts = &t
		}
		n, err = poll(fds, ts, unix.Ppoll)
	}
	switch {
	case err != nil:
		return err
	case n == 0:
		return ErrTimeout
	case woken >= 0 && fds[woken].Revents != 0:
		return ctx.Err()
	case gone >= 0 && fds[gone].Revents&(unix.POLLERR|unix.POLLHUP) != 0:
		return ErrDownstreamGone
	}
	return nil
}

// poll calls ppoll until it is not interrupted. ppoll(2) leaves in ts
// what is left of the time, so a wait interrupted by a signal (the Go
// runtime's preemption, SIGURG) goes on for the rest of it.
func poll(fds []unix.PollFd, ts *unix.Timespec, ppoll func([]unix.PollFd, *unix.Timespec, *unix.Sigset_t) (int, error)) (int, error) {
	for {
		n, err := ppoll(fds, ts, nil)
		if err != unix.EINTR {
			return n, err
		}
	}
}

// waker is the pipe that wakes the waits of one context: made at its
// first wait and kept for the next ones (a tool waits many times a
// second under load, and a pipe per wait cost it a pipe(2), two close(2)
// and a goroutine each time), its write end closed once the context is
// done, its read end once no wait uses it any more.
type waker struct {
	ctx   context.Context
	r, w  int
	users int
	done  bool
}

var wakers struct {
	sync.Mutex
	m map[context.Context]*waker
}

// wakerOf returns ctx's waker, in use until its release.
func wakerOf(ctx context.Context) (*waker, error) {
	wakers.Lock()
	defer wakers.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if w := wakers.m[ctx]; w != nil {
		w.users++
		return w, nil
	}
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return nil, err
	}
	w := &waker{ctx: ctx, r: p[0], w: p[1], users: 1}
	if wakers.m == nil {
		wakers.m = make(map[context.Context]*waker)
	}
	wakers.m[ctx] = w
	context.AfterFunc(ctx, w.wake)
	return w, nil
}

// wake closes the write end: every wait on ctx returns.
func (w *waker) wake() {
	wakers.Lock()
	defer wakers.Unlock()
	unix.Close(w.w)
	w.done = true
	delete(wakers.m, w.ctx)
	if w.users == 0 {
		unix.Close(w.r)
	}
}

func (w *waker) release() {
	wakers.Lock()
	defer wakers.Unlock()
	if w.users--; w.users == 0 && w.done {
		unix.Close(w.r)
	}
}
