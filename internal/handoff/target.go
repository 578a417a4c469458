package handoff

import (
	"errors"
	"time"

	"mdpipe/internal/intake"
)

// Dest is one destination of a message: one routed record.
type Dest struct {
	List      string
	Subqueue  string
	Recipient string
}

// Target is where messages go.
type Target interface {
	// HandOff hands claim c off to every one of dests. It returns nil
	// once the message is the target's, or when the claim is gone because
	// someone else acted first. Errors are classified (*fault.Error).
	HandOff(c intake.Claim, dests []Dest) error
	// Commit makes the hand-offs since the last Commit durable and drops
	// their claims where that waited for durability. It runs when the
	// input has nothing more waiting, so a batch costs one fsync per
	// directory.
	Commit() error
	// Close ends the target's connections.
	Close() error
}

// Stoppable is a Target whose hand-off in hand can be abandoned. Once
// stop is closed, a hand-off under way (an LMTP server that never
// answers, a command that runs on) ends after at most StopGrace with a
// temporary error, and the message stays claimed, as after a command killed by its
// timeout. The Sweeper passes its Stop channel on.
type Stoppable interface {
	SetStop(stop <-chan struct{})
}

// stopping reports whether stop is closed.
func stopping(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// StopGrace is how long a hand-off under way when a stop comes may still
// finish on its own before it is abandoned: most take milliseconds, and
// each one abandoned may be delivered again later.
const StopGrace = 2 * time.Second

// watchStop calls abandon once stop is closed and StopGrace has passed,
// unless the returned end is called first. A nil stop watches nothing.
func watchStop(stop <-chan struct{}, abandon func()) (end func()) {
	if stop == nil {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		select {
		case <-stop:
		case <-done:
			return
		}
		t := time.NewTimer(StopGrace)
		defer t.Stop()
		select {
		case <-t.C:
			abandon()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// errStopping is the reason of a hand-off abandoned for a stop.
var errStopping = errors.New("abandoned: stopping")
