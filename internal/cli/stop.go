package cli

import (
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Stopper implements DESIGN rule 8: on SIGTERM or SIGINT the tool finishes
// the message in hand, flushes its output and exits. The main loop holds
// the Stopper while it works on one message; the signal takes it when the
// loop lets go (blocked on input, waiting for mail, between messages), so a
// stop never splits a message's handling and never waits for new input.
//
// A stage after mdclaim drains first (OnDrain): the claims already in the
// pipeline are handed off or parked, or given back to new/ once the grace
// has passed, not stranded, so signalling the whole pipeline at once is a
// clean stop.
type Stopper struct {
	mu       sync.Mutex
	stopped  chan struct{}
	draining chan struct{}
	once     sync.Once
	drain    sync.Once
	// exiting is set once the signal's goroutine is about to exit the
	// process: from then on, Hold blocks for good. Until then, a stopped
	// drain (OnDrain's wind-down) may still take and release it.
	exiting  atomic.Bool
	windDown bool // Stop leaves exiting to the wind-down's end
}

// OnStop starts listening for SIGTERM and SIGINT. early, if not nil, runs
// as soon as the signal arrives, before the Stopper is taken: it may
// interrupt what the main loop blocks on while it holds the Stopper (a
// write into a full pipe). finish runs with the Stopper held, after the
// message in hand; its status is the exit status.
func OnStop(early func(), finish func() Status) *Stopper {
	s := newStopper()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		s.Stop()
		if early != nil {
			early()
		}
		s.exit(finish)
	}()
	return s
}

// OnDrain starts listening for SIGTERM and SIGINT for a tool that reads
// records from the tool before it. The first signal starts a drain: the
// tool goes on until its input ends (the tool before it stops too), and
// started, if not nil, runs. When grace has passed, or at a second
// signal, Stopping is closed and the wind-down begins: the tool finishes
// the message in hand and goes on to the end of its input without
// starting new work (mdsweep returns the claims it will not hand off to
// new/), for at most windDown. When that has passed too, or at a third
// signal, it stops as OnStop does, after the message in hand.
func OnDrain(grace, windDown time.Duration, started func(), finish func() Status) *Stopper {
	s := newStopper()
	s.windDown = true
	sig := make(chan os.Signal, 3)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sig
		s.drain.Do(func() { close(s.draining) })
		if started != nil {
			started()
		}
		wait(sig, grace)
		s.Stop()
		wait(sig, windDown)
		s.exit(finish)
	}()
	return s
}

// wait returns after d, or at once when a signal comes.
func wait(sig <-chan os.Signal, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-sig:
	case <-t.C:
	}
}

func newStopper() *Stopper {
	return &Stopper{stopped: make(chan struct{}), draining: make(chan struct{})}
}

func (s *Stopper) exit(finish func() Status) {
	s.exiting.Store(true)
	s.mu.Lock()
	os.Exit(int(finish()))
}

// Stop asks the tool to stop, as the signal does. Unless a wind-down
// follows (OnDrain), no new message is started from then on.
func (s *Stopper) Stop() {
	s.once.Do(func() {
		if !s.windDown {
			s.exiting.Store(true)
		}
		close(s.stopped)
	})
}

// Stopping is closed once a stop was asked for, or a drain's grace has
// passed; waits (backoff, the mail watch) select on it so that a stop
// interrupts them.
func (s *Stopper) Stopping() <-chan struct{} { return s.stopped }

// Draining is closed once a drain (OnDrain) or a stop began.
func (s *Stopper) Draining() <-chan struct{} { return s.draining }

// Hold marks the start of work on one message. Once the signal's
// goroutine is exiting the process (at a stop, or at the end of a
// drain's wind-down), it blocks for good.
func (s *Stopper) Hold() {
	s.mu.Lock()
	if s.exiting.Load() {
		s.mu.Unlock()
		select {}
	}
}

// Release marks the end of work on one message.
func (s *Stopper) Release() { s.mu.Unlock() }

// Grace is how long a stage after mdclaim goes on after a stop signal
// to hand off or park the claims the pipeline holds (OnDrain): at the
// default bound of 64 claims, a list manager that takes 20 messages a
// second needs about 3 s. $MDPIPE_GRACE (a Go duration) changes it.
func Grace() (time.Duration, error) {
	v := os.Getenv("MDPIPE_GRACE")
	if v == "" {
		return DefaultGrace, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("MDPIPE_GRACE='%s' in the environment: not a duration (a number and a unit: 5s, 1m)", v)
	}
	if d < 0 {
		return 0, fmt.Errorf("MDPIPE_GRACE='%s' in the environment: must be 0s or more", v)
	}
	return d, nil
}

// DefaultGrace is the grace without $MDPIPE_GRACE: with the wind-down
// after it (2 s at most), a stop ends within the 7 s that sv down waits
// before it reports a service that did not stop.
const DefaultGrace = 5 * time.Second
