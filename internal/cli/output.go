package cli

import (
	"io"
	"os"
	"sync"
)

// Output writes records. It is buffered, and flushed every flushGroups
// messages and whenever the tool is about to wait (Input.OnIdle) or exit,
// so records flow in few writes under load and without delay when mail
// trickles in: a streaming pipeline never
// holds a message while it waits. When the next tool is gone, Unread says
// which records it never read.
type Output struct {
	w    io.Writer
	pend []byte // whole groups, not yet written
	sent *Sent  // what went into the pipe lately
	buf  []byte // the group being added
	n    int    // records ended (End), for the line a stop logs
	np   int    // groups pending (flushGroups)
	// err is guarded, so that a goroutine of the caller's may ask Err
	// while the main loop writes.
	errMu sync.Mutex
	err   error
}

// outBuf is how much is gathered before a write, unless the tool flushes
// first.
const outBuf = 64 << 10

// flushGroups is how many groups (messages) are gathered before a write,
// unless the tool flushes first. Under mdclaim's bound a refill reaches
// mdroute a quarter of the bound at a time, while mdsweep may have run
// out of work: each message mdroute holds back is one more that mdsweep
// waits for. With 16, mdsweep saw a refill of 16 only once mdroute had
// routed all of it; with 2, the bounded drain of the bench's 20,000
// messages took 2 to 4% less time (the medians of three batches of 12
// to 16 interleaved pairs), and the unbounded one no more. A write for
// every message was no faster than one for two; one for four was
// slower.
const flushGroups = 2

// NewOutput returns an Output on stdout.
func NewOutput() *Output { return NewWriterOutput(os.Stdout) }

// NewWriterOutput returns an Output on w. When w is a pipe, it keeps
// what it wrote lately, for Unread.
func NewWriterOutput(w io.Writer) *Output {
	fd := -1
	if f, ok := w.(*os.File); ok {
		fd = PipeFd(int(f.Fd()))
	}
	return &Output{w: w, sent: NewSent(fd)}
}

// Add appends one record (fields joined by TAB) to the pending group.
func (o *Output) Add(fields ...string) {
	for i, f := range fields {
		if i > 0 {
			o.buf = append(o.buf, '\t')
		}
		o.buf = append(o.buf, f...)
	}
	o.buf = append(o.buf, '\n')
}

// End writes the pending group of records in one piece: it never straddles
// a flush, so the next tool reads all the records of one message together
// (a pipe write of up to PIPE_BUF bytes is atomic). After a write failed,
// the groups are kept for Unread.
func (o *Output) End() {
	if len(o.pend)+len(o.buf) > outBuf && len(o.pend) > 0 {
		o.Flush()
	}
	o.pend = append(o.pend, o.buf...)
	if len(o.buf) > 0 {
		o.n++
		o.np++
	}
	o.buf = o.buf[:0]
	if len(o.pend) >= outBuf || o.np >= flushGroups {
		o.Flush()
	}
}

// Records returns how many records were ended (End) so far.
func (o *Output) Records() int { return o.n }

// Record writes one record as a group of its own.
func (o *Output) Record(fields ...string) {
	o.Add(fields...)
	o.End()
}

// Flush writes out what is buffered.
func (o *Output) Flush() error {
	if err := o.Err(); err != nil || len(o.pend) == 0 {
		return err
	}
	o.np = 0
	n, err := o.w.Write(o.pend)
	o.sent.Add(o.pend[:n])
	o.pend = o.pend[:copy(o.pend, o.pend[n:])]
	o.keep(err)
	return o.Err()
}

// Unread calls each for every record the next tool will never read: once
// it is gone, those the pipe still holds, and those never written. While
// it is there, nothing: what it has not read yet it will.
func (o *Output) Unread(each func(line []byte)) {
	if o.sent.fd < 0 || !ReaderGone(o.sent.fd) {
		return
	}
	o.sent.Unread(each)
	Lines(o.pend, each)
}

// Err returns the first write error.
func (o *Output) Err() error {
	o.errMu.Lock()
	defer o.errMu.Unlock()
	return o.err
}

func (o *Output) keep(err error) {
	o.errMu.Lock()
	if o.err == nil {
		o.err = err
	}
	o.errMu.Unlock()
}
