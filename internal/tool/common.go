// Package tool is the command line of each mdpipe tool: flags and
// environment in, the core packages' work, an exit status out. The mains
// under cmd/ only call these functions, which lets the tests run each
// tool exactly as a user types it (testscript) inside the test binary.
package tool

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"mdpipe/internal/cli"
)

// run carries the state a tool's run shares between its loop and the
// SIGTERM handler.
type run struct {
	log    *cli.Log
	out    *cli.Output
	stop   *cli.Stopper
	status cli.Status
	quit   bool // stop reading input: the tool exits with its status
}

func newRun(prog string) *run {
	r := &run{log: cli.NewLog(prog), out: cli.NewOutput()}
	// A write into a pipe whose reader exited fails with EPIPE instead of
	// killing the tool, so it can say so and exit with its own status.
	// (Notify, not Ignore: an ignored SIGPIPE would be inherited by the
	// commands mdsweep -c runs.)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	return r
}

// onStop installs the SIGTERM/SIGINT handler: after the message in hand,
// flush and exit with the status so far, where "nothing to claim" counts
// as success (a stop is not a failure).
func (r *run) onStop(finish func()) {
	r.stop = cli.OnStop(func() cli.Status {
		if finish != nil {
			finish()
		}
		r.out.Flush()
		if r.status == cli.None {
			return cli.OK
		}
		return r.status
	})
}

// note raises the run's status.
func (r *run) note(s cli.Status) { r.status = cli.Worse(r.status, s) }

// end flushes output and returns the exit status. A write error is the
// next tool's exit: temporary, unless we are stopping anyway.
func (r *run) end() int {
	if err := r.out.Flush(); err != nil {
		r.outputFailed(err)
	}
	return int(r.status)
}

func (r *run) outputFailed(err error) {
	if r.stopping() {
		return
	}
	if errors.Is(err, syscall.EPIPE) {
		err = cli.ErrDownstreamGone
	}
	r.log.Printf("cannot write output: %v", err)
	r.note(cli.Temp)
}

func (r *run) stopping() bool {
	if r.stop == nil {
		return false
	}
	select {
	case <-r.stop.Stopping():
		return true
	default:
		return false
	}
}

// usage prints a usage line and the flags, and returns status 100.
func usage(fs *cli.Flags, synopsis string) int {
	fmt.Fprintf(os.Stderr, "usage: %s\n", synopsis)
	fs.PrintDefaults()
	return int(cli.Perm)
}
