package handoff

import (
	"context"
	"errors"
	"fmt"
	"time"

	"mdpipe/internal/fault"
	"mdpipe/internal/intake"
	"mdpipe/internal/logline"
)

// Backoff limits of a failing destination (mdpipe(7), RULES: temporary or
// permanent): 1 s doubling to 60 s.
const (
	MinBackoff = time.Second
	MaxBackoff = time.Minute
)

// ErrDeferred says the message was deferred (cur/B:1,D) for the
// destinations that did not take it: it waits for its next try on disk,
// not in the pipeline.
var ErrDeferred = errors.New("deferred")

// Sweeper hands off one message at a time and never waits on one: a
// temporary failure marks the destinations that failed as failing, with a
// back-off of their own, and defers the message for those not yet done; a
// message for a destination known to be failing is deferred without a
// try. So one failing list costs only its own mail, and a whole site
// down is tried once per destination and back-off, not once per message.
type Sweeper struct {
	Target Target
	Log    *logline.Log
	// Keys names what a destination's hand-off depends on (its queue,
	// its list's command, its recipient): one failure makes all that
	// share a key wait.
	Keys func(Dest) string
	// Server, if not "", is the key of the target itself, failing when
	// it cannot be reached at all (IsUnreachable): every destination on
	// it waits then.
	Server string
	Min    time.Duration // first back-off; MinBackoff if 0
	Max    time.Duration // longest back-off; MaxBackoff if 0

	failing map[string]*failure
	done    intake.DoneIndex // which destinations took a message before
}

// InputReads tells the Sweeper how many times the input its claims come
// from was read so far (cli.Input.Reads): it then learns which messages
// were deferred before once a read, not once a message (DoneIndex).
func (s *Sweeper) InputReads(reads func() int) { s.done.Reads = reads }

// Unwatch stops watching, as the first step of Close (DoneIndex.Unwatch):
// a caller at the end of its input calls it before its other teardown,
// and Close after.
func (s *Sweeper) Unwatch() { s.done.Unwatch() }

// Close releases what the Sweeper watches.
func (s *Sweeper) Close() { s.done.Close() }

// failure is a destination known to be failing.
type failure struct {
	next time.Time     // no try before
	wait time.Duration // the back-off that set next
	why  string        // its last error
}

// Sweep hands c off to dests, less those that took it before (a retry of
// a deferred message); ctx is the hand-off's (Target.HandOff). It returns
// nil when the message is handed off (or someone else acted first),
// ErrDeferred when it was deferred, a permanent *fault.Error to park it,
// or another error with the message left claimed (recovery returns it).
func (s *Sweeper) Sweep(ctx context.Context, c intake.Claim, dests []Dest) error {
	done, deferred, err := s.done.ReadDone(c)
	if err != nil {
		return fault.Temporary(fmt.Errorf("which destinations took it before: %w", err))
	}
	todo := without(dests, done)
	if len(todo) == 0 {
		// Every destination took it; a crash came before the claim
		// was dropped.
		if err := c.Drop(); err != nil {
			return fault.Temporary(err)
		}
		return c.Forget()
	}
	now := time.Now()
	if next, why := s.heldUntil(todo, now); !next.IsZero() {
		return s.deferTo(c, next, why, done, "")
	}
	err = s.Target.HandOff(ctx, c, todo)
	switch {
	case err == nil:
		for _, d := range todo {
			s.ok(d)
		}
		if deferred {
			if err := c.Forget(); err != nil {
				s.Log.Printf("%v", err)
			}
		}
		return nil
	case errors.Is(err, fault.ErrGone):
		return err
	case !fault.IsTemporary(err):
		if len(done) > 0 {
			// Parking it would let a retry of the parked message reach
			// the destinations that took it again.
			s.Log.Path("handed off to some destinations only, not parked", c.Path, err)
			if derr := c.Drop(); derr != nil {
				return fault.Temporary(derr)
			}
			return c.Forget()
		}
		if deferred {
			c.ForgetDone()
		}
		return err
	}
	took := s.Target.Took(c, todo)
	for _, d := range took {
		s.ok(d)
	}
	next := now.Add(s.min())
	if ctx.Err() == nil {
		// A hand-off cut short by a stop says nothing of the
		// destination: it is not marked failing.
		next = s.fail(without(todo, took), err, time.Now())
	}
	return s.deferTo(c, next, err.Error(), append(done, took...), "deferred")
}

// deferTo defers c until next, keeping done. A deferral after a try is
// logged with what; one without a try (what is "": its destination is
// known to be failing, and its failure was logged) only with -v, or a
// list down would cost a line per message and back-off.
func (s *Sweeper) deferTo(c intake.Claim, next time.Time, why string, done []Dest, what string) error {
	if err := c.Defer(next, why, done); err != nil {
		if fault.IsGone(err) {
			return fault.ErrGone
		}
		return fault.Temporary(fmt.Errorf("cannot defer: %w", err))
	}
	until := next.UTC().Format("2006-01-02T15:04:05Z")
	if what != "" {
		s.Log.Path(what+" until "+until, c.DeferPath(), errors.New(why))
	} else {
		s.Log.Info("deferred without a try until %s, its destination failing '%s': %s", until, c.DeferPath(), why)
	}
	return ErrDeferred
}

// heldUntil returns the latest next try of the failing destinations among
// dests, and the last error of that one; zero when none is failing now.
func (s *Sweeper) heldUntil(dests []Dest, now time.Time) (time.Time, string) {
	var next time.Time
	var why string
	look := func(key string) {
		if f := s.failing[key]; f != nil && f.next.After(now) && f.next.After(next) {
			next, why = f.next, f.why
		}
	}
	if s.Server != "" {
		look(s.Server)
	}
	for _, d := range dests {
		look(s.Keys(d))
	}
	return next, why
}

// fail marks the keys of dests (or, for an unreachable target, the
// target itself) failing, doubling each one's back-off, and returns the
// latest next try.
func (s *Sweeper) fail(dests []Dest, err error, now time.Time) time.Time {
	keys := make([]string, 0, len(dests))
	if s.Server != "" && IsUnreachable(err) {
		keys = append(keys, s.Server)
	} else {
		for _, d := range dests {
			keys = append(keys, s.Keys(d))
		}
	}
	if s.failing == nil {
		s.failing = make(map[string]*failure)
	}
	next := now.Add(s.min())
	for _, k := range keys {
		f := s.failing[k]
		switch {
		case f == nil:
			f = &failure{wait: s.min(), next: now.Add(s.min())}
			s.failing[k] = f
		case f.next.After(now):
			// Failed again by a hand-off begun before its back-off
			// was set: the same failure, not a second one.
		default:
			f.wait = min(2*f.wait, s.max())
			f.next = now.Add(f.wait)
		}
		f.why = err.Error()
		if f.next.After(next) {
			next = f.next
		}
	}
	return next
}

// ok forgets that d's destination was failing: it took a message.
func (s *Sweeper) ok(d Dest) {
	if len(s.failing) > 0 {
		delete(s.failing, s.Keys(d))
		if s.Server != "" {
			delete(s.failing, s.Server)
		}
	}
}

func (s *Sweeper) min() time.Duration {
	if s.Min > 0 {
		return s.Min
	}
	return MinBackoff
}

func (s *Sweeper) max() time.Duration {
	if s.Max > 0 {
		return s.Max
	}
	return MaxBackoff
}

// without returns dests less those in done.
func without(dests, done []Dest) []Dest {
	if len(done) == 0 {
		return dests
	}
	var out []Dest
	for _, d := range dests {
		found := false
		for _, x := range done {
			if d == x {
				found = true
				break
			}
		}
		if !found {
			out = append(out, d)
		}
	}
	return out
}
