// Package pipewait waits for input while it watches the pipe downstream:
// a tool that waits for mail must still notice at once that the tool after
// it in the pipeline has exited. Both the tools' input and the watch of a
// maildir wait this way.
package pipewait

import (
	"errors"
	"time"

	"golang.org/x/sys/unix"
)

// ErrDownstreamGone says the tool after us in the pipeline exited: there
// is no one to pass records to, so this tool exits too, and the whole
// pipeline ends for its supervisor to restart.
var ErrDownstreamGone = errors.New("the next tool in the pipeline has exited")

// Readable blocks until fd is readable, and returns ErrDownstreamGone
// if meanwhile the pipe outFd (if not -1) lost its reader.
func Readable(fd, outFd int, timeout time.Duration) error {
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	if outFd >= 0 {
		// A pipe's write end reports POLLERR once no reader is left;
		// that needs no requested events.
		fds = append(fds, unix.PollFd{Fd: int32(outFd)})
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
		if len(fds) > 1 && fds[1].Revents&(unix.POLLERR|unix.POLLHUP) != 0 {
			return ErrDownstreamGone
		}
		return nil
	}
}
