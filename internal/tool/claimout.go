package tool

import (
	"os"
	"time"

	"mdpipe/internal/cli"

	"golang.org/x/sys/unix"
)

// pipeBuf is PIPE_BUF: a write of at most this many bytes into a pipe is
// whole or not at all.
const pipeBuf = 4096

// claimOut writes mdclaim's records. It knows which claims it has not yet
// written, so that a stop gives exactly those back to new/; and on a pipe
// its writes can be interrupted, so that a stop never waits on a full
// pipe (mdpipe(7), RULES: a clean stop).
type claimOut struct {
	f        *os.File
	nonblock bool // fd 1 was made non-blocking: restore it at the end
	buf      []byte
	ends     []int    // end of each pending record in buf
	claims   []string // the pending records' claims
	sent     *cli.Sent
	err      error
}

// newClaimOut writes to standard output. A pipe is made non-blocking
// for the time of the run, so that the runtime's poller can interrupt a
// write (a deadline); writes of whole records of at most PIPE_BUF bytes
// keep every record whole in the pipe.
func newClaimOut() *claimOut {
	o := &claimOut{f: os.Stdout, sent: cli.NewSent(cli.PipeFd(1))}
	if cli.PipeFd(1) >= 0 && unix.SetNonblock(1, true) == nil {
		o.nonblock = true
		// A second *os.File on fd 1, made while it is non-blocking, is
		// one the poller serves. It is never closed (see restore).
		o.f = os.NewFile(1, "stdout")
	}
	return o
}

// add appends the record of one claim.
func (o *claimOut) add(claim string) {
	o.buf = append(o.buf, claim...)
	o.buf = append(o.buf, '\n')
	o.ends = append(o.ends, len(o.buf))
	o.claims = append(o.claims, claim)
}

// flush writes the pending records.
func (o *claimOut) flush() error {
	for o.err == nil && len(o.ends) > 0 {
		// As many whole records as fit PIPE_BUF; at least one.
		i := 1
		for i < len(o.ends) && o.ends[i] <= pipeBuf {
			i++
		}
		n, err := o.f.Write(o.buf[:o.ends[i-1]])
		o.sent.Add(o.buf[:max(n, 0)])
		o.consume(n)
		if err != nil {
			o.err = err
		}
	}
	return o.err
}

// consume drops the first n bytes written, and the records they end.
func (o *claimOut) consume(n int) {
	if n <= 0 {
		return
	}
	o.buf = o.buf[:copy(o.buf, o.buf[n:])]
	k := 0
	for k < len(o.ends) && o.ends[k] <= n {
		k++
	}
	o.ends = o.ends[:copy(o.ends, o.ends[k:])]
	for j := range o.ends {
		o.ends[j] -= n
	}
	o.claims = o.claims[:copy(o.claims, o.claims[k:])]
}

// interrupt makes a write blocked on a full pipe return at once. It is
// called from the stop's goroutine.
func (o *claimOut) interrupt() {
	if o.nonblock {
		o.f.SetWriteDeadline(time.Now())
	}
}

// unwritten returns the claims nobody downstream has read a whole record
// of.
func (o *claimOut) unwritten() []string { return o.claims }

// unread returns, once the next stage is gone, the claims written into
// the pipe that it never read.
func (o *claimOut) unread() []string {
	var left []string
	o.sent.Unread(func(line []byte) { left = append(left, string(line)) })
	return left
}

// restore puts fd 1 back in blocking mode, for whoever shares the pipe
// after us (a shell's next command in a { ...; } group).
func (o *claimOut) restore() {
	if o.nonblock {
		unix.SetNonblock(1, false)
	}
}
