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

// Readable blocks until fd is readable, timeout (negative: no limit) has
// passed, or ctx is done (then it returns ctx's error), and returns
// ErrDownstreamGone if meanwhile the pipe outFd (if not -1) lost its
// reader. A negative fd is not waited on: that is a sleep that still
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
		wake, release, err := wakeOn(ctx)
		if err != nil {
			return err
		}
		defer release()
		woken = len(fds)
		fds = append(fds, unix.PollFd{Fd: int32(wake), Events: unix.POLLIN})
	}
	ms := -1
	if timeout >= 0 {
		ms = int(timeout / time.Millisecond)
	}
	for {
		_, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if woken >= 0 && fds[woken].Revents != 0 {
			return ctx.Err()
		}
		if gone >= 0 && fds[gone].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			return ErrDownstreamGone
		}
		return nil
	}
}

// wakeOn returns the read end of a pipe that becomes readable (its end)
// once ctx is done, and a function that closes both ends.
func wakeOn(ctx context.Context) (int, func(), error) {
	var p [2]int
	if err := unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
		return -1, nil, err
	}
	var once sync.Once
	closeW := func() { once.Do(func() { unix.Close(p[1]) }) }
	stop := context.AfterFunc(ctx, closeW)
	return p[0], func() {
		stop()
		closeW() // after the AfterFunc's own call, if it started: once
		unix.Close(p[0])
	}, nil
}
