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
	"sync"
	"syscall"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/handoff"
)

// run carries the state a tool's run shares between its loop and the
// SIGTERM handler.
type run struct {
	log  *cli.Log
	out  *cli.Output
	stop *cli.Stopper
	quit bool // stop reading input: the tool exits with its status

	// status is also read by the SIGTERM handler's goroutine.
	statusMu sync.Mutex
	status   cli.Status
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
// flush and exit 0 (DESIGN rule 8: a stop is not a failure, whatever
// inputs were bad before it), or 111 when finishing the work in hand
// failed (finish noted it). early runs at the signal, before the message
// in hand is finished (see cli.OnStop).
func (r *run) onStop(early, finish func()) {
	r.stop = cli.OnStop(early, r.finisher(finish))
}

// onDrain installs the handler of a stage after mdclaim: at SIGTERM it
// goes on until its input ends, for at most the grace ($MDPIPE_GRACE);
// then it winds down (the stop's Stopping is closed) for at most
// windDown, and stops as onStop does. What it handles meanwhile sets its
// exit status afresh: a drain that ends well exits 0. A bad
// $MDPIPE_GRACE is a usage error (false).
func (r *run) onDrain(finish func()) bool {
	grace, err := cli.Grace()
	if err != nil {
		r.log.Printf("%v", err)
		return false
	}
	r.stop = cli.OnDrain(grace, windDown, func() {
		r.statusMu.Lock()
		r.status = cli.OK
		r.statusMu.Unlock()
	}, r.finisher(finish))
	return true
}

// windDown bounds the end of a drain whose grace has passed: the message
// in hand may take up to handoff.StopGrace before it is abandoned, and
// then mdsweep returns the claims of the rest of its input to new/,
// which takes milliseconds. With the default grace, a stop takes at most
// the 7 s that sv down waits.
const windDown = handoff.StopGrace

func (r *run) finisher(finish func()) func() cli.Status {
	return func() cli.Status {
		r.statusMu.Lock()
		r.status = cli.OK
		r.statusMu.Unlock()
		if finish != nil {
			finish()
		}
		r.out.Flush()
		return r.code()
	}
}

// note raises the run's status.
func (r *run) note(s cli.Status) {
	r.statusMu.Lock()
	r.status = cli.Worse(r.status, s)
	r.statusMu.Unlock()
}

// code returns the run's status so far.
func (r *run) code() cli.Status {
	r.statusMu.Lock()
	defer r.statusMu.Unlock()
	return r.status
}

// end flushes output and returns the exit status. A write error is the
// next tool's exit: temporary, unless we are stopping anyway. It holds the
// Stopper meanwhile, so that a stop under way exits from its own
// goroutine (with its status) and never flushes at the same time.
func (r *run) end() int {
	if r.stop != nil {
		r.stop.Hold()
	}
	if err := r.out.Flush(); err != nil {
		r.outputFailed(err)
	}
	if r.stop != nil {
		r.stop.Release()
	}
	return r.exit()
}

// exit returns the exit status, or, once a stop is under way, never
// returns: the stop's goroutine exits the process (DESIGN rule 8). A
// drain's wind-down is the exception: a loop that reached the end of its
// input then returns its status, and the process exits with it.
func (r *run) exit() int {
	if r.stopping() {
		r.stop.Hold() // blocks for good, unless winding down
	}
	return int(r.code())
}

func (r *run) outputFailed(err error) {
	if errors.Is(err, syscall.EPIPE) {
		err = cli.ErrDownstreamGone
	}
	if r.stopPending(err) {
		return
	}
	r.log.Printf("cannot write output: %v", err)
	r.note(cli.Temp)
}

// stopGrace is how long a tool whose next tool exited waits for its own
// stop signal before it calls that a failure.
const stopGrace = 300 * time.Millisecond

// stopPending reports whether a stop is under way. The next tool gone is
// most often the whole pipeline being stopped: a supervisor or ^C signals
// every tool at once, and the next tool may exit before our own signal is
// handled (the Go runtime takes a few milliseconds on a busy machine).
// Then it waits up to stopGrace for that signal, so a stop still exits 0.
func (r *run) stopPending(err error) bool {
	if r.stop == nil {
		return false
	}
	if r.stopping() {
		return true
	}
	if !errors.Is(err, cli.ErrDownstreamGone) {
		return false
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-r.stop.Stopping():
		return true
	case <-t.C:
		return false
	}
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

// usage says what is wrong (err, in words) and the usage line on stderr,
// and returns 100. For -h (cli.ErrHelp) it prints the usage line and the
// flags on stdout, for -V (cli.ErrVersion) the tool's name and version,
// and returns 0.
func usage(fs *cli.Flags, synopsis string, err error) int {
	if errors.Is(err, cli.ErrHelp) {
		fs.PrintUsage(os.Stdout, synopsis)
		return int(cli.OK)
	}
	if errors.Is(err, cli.ErrVersion) {
		fmt.Printf("%s %s\n", fs.Name(), cli.Version())
		return int(cli.OK)
	}
	cli.NewLog(fs.Name()).Printf("%v", err)
	fmt.Fprintf(os.Stderr, "usage: %s\n", synopsis)
	return int(cli.Perm)
}
