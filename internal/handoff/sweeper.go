package handoff

import (
	"context"
	"errors"
	"time"

	"mdpipe/internal/fault"
	"mdpipe/internal/intake"
	"mdpipe/internal/logline"
)

// Backoff limits (mdpipe(7), RULES: temporary or permanent): 1 s
// doubling to 60 s.
const (
	MinBackoff = time.Second
	MaxBackoff = time.Minute
)

// ErrGaveUp says a temporary failure outlasted -t: the message stays
// claimed for mdclaim -r, and mdsweep exits 111.
var ErrGaveUp = errors.New("gave up")

// ErrStopped says a stop interrupted the hand-off in hand or the wait
// between retries; the message stays claimed.
var ErrStopped = errors.New("stopped while waiting to retry")

// Sweeper hands off one message at a time, retrying temporary failures
// with capped exponential backoff. While it waits it holds the pipeline:
// the tools upstream block on a full pipe and claim nothing more
// (back-pressure), and the message is never parked for a temporary cause.
type Sweeper struct {
	Target Target
	Log    *logline.Log
	GiveUp time.Duration // 0: retry for ever
	// Stop, if not nil, is done once a stop began: a temporary failure
	// is then not retried, and no back-off is waited out. (A failing
	// hand-off would not drain anyway.)
	Stop context.Context
	Min  time.Duration // first wait; MinBackoff if 0
	Max  time.Duration // longest wait; MaxBackoff if 0
}

// Sweep hands c off; ctx is the hand-off's (Target.HandOff). It returns
// nil when the message is handed off (or someone else acted first), a
// permanent *fault.Error to park it, ErrGaveUp or ErrStopped with the message
// left claimed.
func (s *Sweeper) Sweep(ctx context.Context, c intake.Claim, dests []Dest) error {
	wait := s.Min
	if wait <= 0 {
		wait = MinBackoff
	}
	limit := s.Max
	if limit <= 0 {
		limit = MaxBackoff
	}
	stop := s.Stop
	if stop == nil {
		stop = context.Background()
	}
	start := time.Now()
	for {
		err := s.Target.HandOff(ctx, c, dests)
		if err == nil || !fault.IsTemporary(err) {
			return err
		}
		if stop.Err() != nil || ctx.Err() != nil {
			// A stop abandons the hand-off in hand; the message stays
			// claimed for mdclaim -r.
			s.Log.Path("stopping; left claimed", c.Path, err)
			return ErrStopped
		}
		if s.GiveUp > 0 && time.Since(start)+wait > s.GiveUp {
			s.Log.Path("giving up on", c.Path, err)
			return ErrGaveUp
		}
		s.Log.Path("retrying in "+wait.String(), c.Path, err)
		// Whatever earlier hand-offs of this batch wait for, let them
		// finish before we sleep.
		if cerr := s.Target.Commit(); cerr != nil {
			s.Log.Printf("commit: %v", cerr)
		}
		timer := time.NewTimer(wait)
		select {
		case <-timer.C:
		case <-stop.Done():
		case <-ctx.Done():
		}
		if timer.Stop() {
			s.Log.Path("stopping; left claimed", c.Path, err)
			return ErrStopped
		}
		wait = min(2*wait, limit)
	}
}
