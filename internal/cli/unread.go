package cli

import (
	"bytes"
	"time"

	"golang.org/x/sys/unix"
)

// Sent keeps the last bytes written into a pipe, so that once the pipe's
// reader has gone the writer can tell which of its records were never
// read: the kernel keeps a pipe's unread bytes while a writer holds it
// open, and says how many there are (FIONREAD). Those records' claims
// are nobody's then, and go back to new/ (mdpipe(7), RULES: a clean stop).
type Sent struct {
	fd      int
	keep    int // how many of the last bytes to keep
	b       []byte
	trimmed bool // b no longer begins with the first byte written
}

// NewSent watches fd, which must be a pipe (PipeFd); for -1 it keeps
// nothing.
func NewSent(fd int) *Sent {
	s := &Sent{fd: fd}
	if fd >= 0 {
		size, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
		if err != nil || size < 64<<10 {
			size = 64 << 10
		}
		// The pipe's whole capacity, and a record more: the first
		// unread byte may lie inside a record whose start was read.
		s.keep = size + maxRecord
	}
	return s
}

// Add notes bytes written into the pipe.
func (s *Sent) Add(p []byte) {
	if s.fd < 0 || len(p) == 0 {
		return
	}
	s.b = append(s.b, p...)
	if len(s.b) > 2*s.keep {
		s.b = s.b[:copy(s.b, s.b[len(s.b)-s.keep:])]
		s.trimmed = true
	}
}

// Unread calls each for every record the pipe still holds a byte of,
// when no reader is left; a record whose start was read already is
// included. It does nothing while a reader is left: what the pipe holds
// is the reader's to read.
func (s *Sent) Unread(each func(line []byte)) {
	if s.fd < 0 || !ReaderGone(s.fd) {
		return
	}
	n, err := unix.IoctlGetInt(s.fd, unix.TIOCINQ) // FIONREAD
	if err != nil || n <= 0 {
		return
	}
	n = min(n, len(s.b))
	start := len(s.b) - n
	// Back to the start of the record the first unread byte is in.
	if i := bytes.LastIndexByte(s.b[:start], '\n'); i >= 0 {
		start = i + 1
	} else if !s.trimmed {
		start = 0
	} else if i := bytes.IndexByte(s.b[start:], '\n'); i >= 0 {
		start += i + 1 // a fragment whose start is not kept: not a path
	} else {
		return
	}
	Lines(s.b[start:], each)
}

// Lines calls each for every non-empty line of b, a last one without
// its newline included.
func Lines(b []byte, each func(line []byte)) {
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) > 0 {
			each(line)
		}
	}
}

// ReaderGone reports whether fd, the write end of a pipe, has no reader
// left.
func ReaderGone(fd int) bool {
	fds := []unix.PollFd{{Fd: int32(fd)}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err == nil && n > 0 && fds[0].Revents&unix.POLLERR != 0
	}
}

// Settle waits, for at most limit, until the next tool has read all that
// the pipe holds, or has gone. A stage that reaches the end of its input
// just as the next one stops reading (a stop's wind-down) would otherwise
// exit with records in the pipe between them, and their claims would wait
// for mdclaim -r; after Settle, Unread finds them. A reader that is there
// but slow keeps what it has not read yet: it reads it later.
func (o *Output) Settle(limit time.Duration) {
	fd := o.sent.fd
	if fd < 0 {
		return
	}
	deadline := time.Now().Add(limit)
	// No events asked for: poll(2) wakes at once with POLLERR when the
	// reader goes. Nothing wakes it when the reader has read all, so it
	// looks at the pipe again after each of settleWaits.
	fds := []unix.PollFd{{Fd: int32(fd)}}
	for wait := range settleWaits() {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
		left := time.Until(deadline)
		if err != nil || n <= 0 || left <= 0 {
			return
		}
		_, err = unix.Ppoll(fds, &unix.Timespec{Nsec: int64(min(left, wait))}, nil)
		if err == nil && fds[0].Revents&unix.POLLERR != 0 {
			return
		}
	}
}

// settleWaits yields how long each of Settle's looks at the pipe waits:
// settleFirst, doubling up to settleMost. At the end of a run the next
// tool reads the last records within a millisecond or two: a fixed wait
// of settleMost held every stage's exit, and with it the pipeline's end,
// that much past it. A reader slower than that is looked at every
// settleMost, a few system calls a second.
func settleWaits() func(yield func(time.Duration) bool) {
	return func(yield func(time.Duration) bool) {
		for w := settleFirst; yield(w); w = min(2*w, settleMost) {
		}
	}
}

const (
	settleFirst = 100 * time.Microsecond
	settleMost  = 5 * time.Millisecond
)
