package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"mdpipe/internal/pipewait"

	"golang.org/x/sys/unix"
)

// ErrUsage is returned by NewInput when there are no operands and stdin is
// a terminal: the tool prints usage instead of waiting for a person to type.
var ErrUsage = errors.New("no operands and standard input is a terminal")

// maxRecord bounds one input line. A path is at most PATH_MAX (4096) and the
// other fields are at most a few hundred bytes; anything longer is refused.
const maxRecord = 64 << 10

// ErrRecordTooLong is the error for an input line over the limit; the
// line is skipped and the next one read.
var ErrRecordTooLong = fmt.Errorf("record longer than %d bytes", maxRecord)

// Input yields records, one per line, from the operands if there are any
// (mblaze's convention) and from standard input otherwise.
type Input struct {
	operands []string
	r        *bufio.Reader
	fd       int
	idle     func()
	quiet    func()          // OnQuiet
	quietFor time.Duration   // OnQuiet
	outFd    int             // a pipe to the next tool, watched while waiting; -1: none
	stop     context.Context // ends the waits for input (StopWaits)
	reads    int             // reads of the input so far (Reads)
}

// countReads counts the reads of an Input's reader.
type countReads struct {
	r io.Reader
	n *int
}

func (c countReads) Read(b []byte) (int, error) {
	*c.n++
	return c.r.Read(b)
}

// Reads returns how many times the input was read so far: whatever
// happened before a record was written is done by the time a read
// returns it. An operand counts as a read of its own.
func (in *Input) Reads() int { return in.reads }

// NewInput reads operands, or standard input when there are none.
func NewInput(operands []string) (*Input, error) {
	if len(operands) > 0 {
		return &Input{operands: operands}, nil
	}
	if IsTerminal(0) {
		return nil, ErrUsage
	}
	in := &Input{fd: 0, outFd: PipeFd(1)}
	in.r = bufio.NewReaderSize(countReads{os.Stdin, &in.reads}, maxRecord)
	return in, nil
}

// FromOperands reports whether the records come from operands: each one
// a path as the user typed it, not a line of the record format, so a TAB
// in it is part of the path (and refused), not a field separator.
func (in *Input) FromOperands() bool { return in.r == nil }

// NewReaderInput reads records from r, for tests and callers that have one.
func NewReaderInput(r io.Reader) *Input {
	in := &Input{fd: -1, outFd: -1}
	in.r = bufio.NewReaderSize(countReads{r, &in.reads}, maxRecord)
	return in
}

// StopWaits makes a wait for input end once ctx is done: Next then
// returns ctx's error. What can be read without waiting is still read.
func (in *Input) StopWaits(ctx context.Context) { in.stop = ctx }

func (in *Input) stopCtx() context.Context {
	if in.stop == nil {
		return context.Background()
	}
	return in.stop
}

// ErrDownstreamGone says the tool after us in the pipeline exited: there
// is no one to pass records to, so this tool exits too, and the whole
// pipeline ends for its supervisor to restart.
var ErrDownstreamGone = pipewait.ErrDownstreamGone

// PipeFd returns fd if it is a pipe, -1 otherwise.
func PipeFd(fd int) int {
	var st unix.Stat_t
	if unix.Fstat(fd, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFIFO {
		return fd
	}
	return -1
}

// IsTerminal reports whether fd is a terminal.
func IsTerminal(fd int) bool {
	_, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	return err == nil
}

// OnIdle sets a function that runs each time Next is about to wait for
// input: the tool flushes its output and commits its batch there, so that
// work is grouped over what is already waiting, and no record is held while
// the tool blocks.
func (in *Input) OnIdle(f func()) { in.idle = f }

// OnQuiet sets a function that runs once the input, after a pause
// (OnIdle), has stayed quiet for d: a pause of a moment is no reason for
// work that is worth doing only now and then (mdsweep's fsyncs), a
// quiet input is.
func (in *Input) OnQuiet(d time.Duration, f func()) { in.quiet, in.quietFor = f, d }

// Next returns the next non-empty record, or io.EOF. The returned slice is
// valid until the following call.
func (in *Input) Next() ([]byte, error) {
	if in.r == nil {
		if len(in.operands) == 0 {
			return nil, io.EOF
		}
		op := in.operands[0]
		in.operands = in.operands[1:]
		in.reads++
		return []byte(op), nil
	}
	for {
		if !in.Waiting() {
			if in.idle != nil {
				in.idle()
			}
			if in.fd >= 0 {
				if err := in.wait(); err != nil {
					return nil, err
				}
			}
		}
		line, err := in.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// Skip the rest of the over-long line so the next record
			// starts where it should.
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = in.r.ReadSlice('\n')
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			return nil, ErrRecordTooLong
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		if len(line) > 0 {
			return line, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// wait waits for input, running the quiet function (OnQuiet) if none
// comes soon.
func (in *Input) wait() error {
	if in.quiet != nil {
		err := pipewait.Readable(in.stopCtx(), in.fd, in.outFd, in.quietFor)
		if err != pipewait.ErrTimeout {
			return err
		}
		in.quiet()
	}
	return pipewait.Readable(in.stopCtx(), in.fd, in.outFd, -1)
}

// Waiting reports whether another record can be read without blocking:
// there is buffered input, or the descriptor is readable (data or EOF).
func (in *Input) Waiting() bool {
	if in.r == nil {
		return true
	}
	if in.r.Buffered() > 0 {
		return true
	}
	if in.fd < 0 {
		return true
	}
	fds := []unix.PollFd{{Fd: int32(in.fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 0)
		if err == unix.EINTR {
			continue
		}
		return err != nil || n > 0
	}
}

// Peek returns the next record if one can be read without blocking, and
// keeps it for the following Next. mdsweep uses it to see whether the
// record after a message belongs to the same message (several
// destinations), without ever waiting for input while holding one.
func (in *Input) Peek() ([]byte, bool) {
	if in.r == nil {
		if len(in.operands) == 0 {
			return nil, false
		}
		return []byte(in.operands[0]), true
	}
	for {
		buf, _ := in.r.Peek(in.r.Buffered())
		for len(buf) > 0 && buf[0] == '\n' {
			in.r.Discard(1)
			buf = buf[1:]
		}
		if i := bytes.IndexByte(buf, '\n'); i >= 0 {
			return buf[:i], true
		}
		if len(buf) == 0 && !in.Waiting() {
			return nil, false
		}
		if len(buf) == in.r.Size() {
			return nil, false
		}
		// A partial line is on its way (the tool before us writes a
		// record whole), or the descriptor is readable: fill.
		if _, err := in.r.Peek(len(buf) + 1); err != nil {
			buf, _ = in.r.Peek(in.r.Buffered())
			return buf, len(buf) > 0
		}
	}
}

// PeekWithin is Peek that waits for the next record: up to d, and no
// longer than until ctx is done. mdsweep uses it for the rest of a
// message whose first record said how many it has: the tool before it
// writes them together, so they come at once, unless it died.
func (in *Input) PeekWithin(ctx context.Context, d time.Duration) ([]byte, bool) {
	if in.r == nil || in.fd < 0 {
		return in.Peek()
	}
	deadline := time.Now().Add(d)
	for {
		if line, ok := in.Peek(); ok {
			return line, true
		}
		if in.Waiting() {
			// Readable: a record came since Peek looked, or the input
			// ended. Peek again to tell which: it reads what is there.
			return in.Peek()
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, false
		}
		if err := pipewait.Readable(ctx, in.fd, in.outFd, left); err != nil && err != pipewait.ErrTimeout {
			return nil, false
		}
	}
}

// Left calls each for every record that can be read now without waiting:
// what is buffered, and what the pipe holds. A tool that stops before its
// input ends gives their claims back; what comes into the pipe after it
// has gone is its writer's to give back (Output.Unread). Operands are
// not records of a pipe, and are left alone.
func (in *Input) Left(each func(line []byte)) {
	if in.r == nil {
		return
	}
	in.idle, in.quiet = nil, nil // nothing to commit or flush for these
	for {
		if _, ok := in.Peek(); !ok {
			return
		}
		line, err := in.Next()
		if errors.Is(err, ErrRecordTooLong) {
			continue
		}
		if err != nil {
			return
		}
		each(line)
	}
}
