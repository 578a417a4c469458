package handoff

import (
	"context"
	"errors"

	"mdpipe/internal/intake"
)

// Dest is one destination of a message: one routed record. The intake
// keeps the ones that took a deferred message (Claim.Defer).
type Dest = intake.Dest

// Target is where messages go.
type Target interface {
	// HandOff hands claim c off to every one of dests. It returns nil
	// once the message is the target's, or when the claim is gone because
	// someone else acted first. Errors are classified (*fault.Error). Once
	// ctx is cancelled, a hand-off under way (an LMTP server that never
	// answers, a command that runs on) ends at once with a temporary
	// error, and the message stays claimed, as after a command killed
	// by its timeout.
	HandOff(ctx context.Context, c intake.Claim, dests []Dest) error
	// Commit makes the hand-offs since the last Commit durable and drops
	// their claims where that waited for durability. It runs once the
	// input is quiet, after at most a batch of hand-offs under a steady
	// backlog, and at each pause of the input while claims wait for it,
	// so a batch costs one fsync per directory.
	Commit() error
	// Took returns those of dests that took the message of c so far,
	// after its HandOff failed temporarily for the others: what a
	// deferral keeps, so that its retry goes only to the others. Their
	// copies are durable when it returns.
	Took(c intake.Claim, dests []Dest) []Dest
	// Close ends the target's connections.
	Close() error
}

// errStopping is the reason of a hand-off abandoned because its context
// was cancelled (a stop's wind-down that outlasted its bound).
var errStopping = errors.New("abandoned: stopping")
