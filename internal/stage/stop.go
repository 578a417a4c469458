package stage

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// A stop (mdpipe(7), RULES: a clean stop) is a ladder of three contexts,
// each cancelled after the one before, and passed down to what waits:
//
//   - Draining: at the first SIGTERM or SIGINT. mdclaim stops claiming,
//     gives back to new/ what it has not passed on, and exits 0. A stage
//     after it drains: it goes on until its input ends (the claims
//     already in the pipeline are handed off or parked), then exits 0.
//   - WindingDown: when the grace has passed, or at a second signal.
//     mdsweep hands off nothing new and gives every claim left in its
//     input back to new/ at once.
//   - Over: WindDown after that. The hand-off in hand is abandoned (its
//     command killed, its LMTP session dropped; the message is deferred,
//     cur/B:1,D, for its next try), and no stage waits for more input.
//
// Further signals are ignored: the ladder is bounded anyway, so a stop
// ends within the grace and WindDown. Nothing here exits the process:
// the tool's loop sees the contexts, and its main returns the status.
//
// Whichever stage ends first, nothing stays claimed: a stage that ends
// before its input does gives back the claims of what it can read
// without waiting, and one whose next stage is gone also those of the
// records that stage never read (Stage.Each, Stage.End). No stage reads
// its input to its end first: nothing would end mdclaim.
type Stop struct {
	drain, wind, over context.Context
	endDrain, endWind context.CancelFunc
	endOver           context.CancelFunc
	sig               chan os.Signal
	grace             time.Duration
	windDown          time.Duration
}

// WindDown bounds the wind-down: how long the hand-off in hand may still
// finish on its own. Most take milliseconds; each one abandoned may be
// delivered again later (at-least-once, mdpipe(7), RULES: exactly once).
const WindDown = 2 * time.Second

// DefaultGrace is the grace without $MDPIPE_GRACE: at the default bound
// of 64 claims, a list manager that takes 20 messages a second needs
// about 3 s to drain them; with the wind-down after it, a stop ends
// within the 7 s that sv down waits before it reports a service that did
// not stop.
const DefaultGrace = 5 * time.Second

// Grace is how long a stage after mdclaim drains before the wind-down:
// $MDPIPE_GRACE (a Go duration), or DefaultGrace.
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

// Listen starts the ladder at SIGTERM or SIGINT. It also turns a write
// into a pipe whose reader exited into EPIPE, not a death by SIGPIPE, so
// that the tool can say so and exit with its own status. (Notify, not
// Ignore: an ignored SIGPIPE would be inherited by the commands mdsweep
// -c runs.)
func Listen(grace time.Duration) *Stop {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	s := newStop(grace, WindDown)
	signal.Notify(s.sig, syscall.SIGTERM, syscall.SIGINT)
	go s.ladder()
	return s
}

func newStop(grace, windDown time.Duration) *Stop {
	s := &Stop{sig: make(chan os.Signal, 2), grace: grace, windDown: windDown}
	// Each step implies the ones before it: a context is done when its
	// parent is, so the later step is the parent.
	s.over, s.endOver = context.WithCancel(context.Background())
	s.wind, s.endWind = context.WithCancel(s.over)
	s.drain, s.endDrain = context.WithCancel(s.wind)
	return s
}

// ladder runs in its own goroutine: it only cancels contexts.
func (s *Stop) ladder() {
	<-s.sig
	s.endDrain()
	t := time.NewTimer(s.grace)
	select {
	case <-s.sig:
		t.Stop()
	case <-t.C:
	}
	s.endWind()
	// Signals from now on fill the channel, and Notify drops the rest:
	// ignored.
	time.AfterFunc(s.windDown, s.endOver)
}

// Draining is done from the first signal on.
func (s *Stop) Draining() context.Context { return s.drain }

// WindingDown is done once the grace has passed, or at a second signal.
func (s *Stop) WindingDown() context.Context { return s.wind }

// Over is done WindDown after the wind-down began: the hand-off in hand
// is abandoned, and no wait for input goes on.
func (s *Stop) Over() context.Context { return s.over }

// Stopping reports whether a stop began.
func (s *Stop) Stopping() bool { return s.drain.Err() != nil }

// Signal starts the stop, or takes it a step further, as a SIGTERM does.
func (s *Stop) Signal() {
	select {
	case s.sig <- syscall.SIGTERM:
	default:
	}
}

// pendingWait is how long a stage whose next stage exited waits for its
// own stop signal before it calls that a failure.
const pendingWait = 300 * time.Millisecond

// pending reports whether a stop is under way, or begins within
// pendingWait: the next stage gone may be the pipeline being stopped
// (^C signals every stage at once), and the next stage may exit before
// this one's signal is handled (the Go runtime takes a few milliseconds
// on a busy machine). Then the stop still exits 0.
func (s *Stop) pending() bool {
	t := time.NewTimer(pendingWait)
	defer t.Stop()
	select {
	case <-s.drain.Done():
		return true
	case <-t.C:
		return false
	}
}
