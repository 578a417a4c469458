package cli

import (
	"bufio"
	"io"
	"os"
	"sync"
)

// Output writes records. It is buffered, and flushed whenever the tool is
// about to wait (Input.OnIdle) or exit, so records flow in few writes under
// load and without delay when mail trickles in: a streaming pipeline never
// holds a message while it waits.
type Output struct {
	w   *bufio.Writer
	buf []byte
	n   int // records ended (End), for the line a stop logs
	// err is guarded, so that a goroutine of the caller's may ask Err
	// while the main loop writes.
	errMu sync.Mutex
	err   error
}

// NewOutput returns an Output on stdout.
func NewOutput() *Output { return NewWriterOutput(os.Stdout) }

// NewWriterOutput returns an Output on w.
func NewWriterOutput(w io.Writer) *Output {
	return &Output{w: bufio.NewWriterSize(w, 64<<10)}
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
// (a pipe write of up to PIPE_BUF bytes is atomic).
func (o *Output) End() {
	if len(o.buf) > o.w.Available() && o.w.Buffered() > 0 {
		o.keep(o.w.Flush())
	}
	_, err := o.w.Write(o.buf)
	o.keep(err)
	if len(o.buf) > 0 {
		o.n++
	}
	o.buf = o.buf[:0]
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
	o.keep(o.w.Flush())
	return o.Err()
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
