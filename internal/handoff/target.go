package handoff

import (
	"context"
	"errors"

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
	// someone else acted first. Errors are classified (*fault.Error). Once
	// ctx is cancelled, a hand-off under way (an LMTP server that never
	// answers, a command that runs on) ends at once with a temporary
	// error, and the message stays claimed, as after a command killed
	// by its timeout.
	HandOff(ctx context.Context, c intake.Claim, dests []Dest) error
	// Commit makes the hand-offs since the last Commit durable and drops
	// their claims where that waited for durability. It runs when the
	// input has nothing more waiting, so a batch costs one fsync per
	// directory.
	Commit() error
	// Close ends the target's connections.
	Close() error
}

// errStopping is the reason of a hand-off abandoned because its context
// was cancelled (a stop's wind-down that outlasted its bound).
var errStopping = errors.New("abandoned: stopping")
