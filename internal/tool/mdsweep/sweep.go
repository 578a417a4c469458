package mdsweep

import (
	"errors"

	"mdpipe/internal/cli"
	"mdpipe/internal/fault"
	"mdpipe/internal/handoff"
	"mdpipe/internal/intake"
	"mdpipe/internal/record"
	"mdpipe/internal/stage"

	"golang.org/x/sys/unix"
)

// sweeper is mdsweep's handler: it hands off one message a call.
type sweeper struct {
	*stage.Stage
	in     *cli.Input
	target handoff.Target
	sw     *handoff.Sweeper
	dests  []handoff.Dest
	batch  int // hand-offs since the last commit

	handBack bool // the stop is over: hand off no more
	returned int  // claims given back to new/ (Stage.GiveBack)
}

// maxBatch bounds a batch under a steady backlog, when the input never
// idles: the hand-offs of one batch are at most that many messages away
// from durable.
const maxBatch = 256

// pause commits at a pause of the input only if claims wait for it (a
// copy across file systems drops its claim once durable, and mdclaim's
// bound counts it until then); the rest waits until the input is quiet
// (stage.Commits), so that a backlog worked under the bound, which
// pauses at every refill, is fsynced once a batch, not once a refill.
func (s *sweeper) pause() {
	if w, ok := s.target.(interface{ ClaimsWaiting() bool }); ok && w.ClaimsWaiting() {
		s.commit()
	}
}

func (s *sweeper) commit() {
	s.batch = 0
	if err := s.target.Commit(); err != nil {
		s.Log.Printf("%v", err)
		s.Note(cli.Temp)
	}
}

// sweep hands off one message: this record and the rest of its message's
// records (several destinations).
func (s *sweeper) sweep(line []byte) {
	rec, err := record.Parse(line)
	if err != nil {
		s.Log.Path("bad record for", rec.Path, err)
		s.Note(cli.Perm)
		return
	}
	c, err := intake.ParseClaim(rec.Path)
	if err != nil {
		s.Log.Path("", rec.Path, err)
		s.Note(cli.Perm)
		return
	}
	if s.in.FromOperands() {
		// A path typed, or passed, as an operand: say when it is not
		// there. (A record on stdin whose claim is gone was acted on by
		// someone else first, and is skipped quietly: mdpipe(7), RULES:
		// the owner rule.)
		var st unix.Stat_t
		if err := unix.Lstat(c.Path, &st); err == unix.ENOENT {
			s.Log.Path("", c.Path, err)
			s.Note(cli.Perm)
			for next, ok := s.in.Peek(); ok && record.PathOf(next) == rec.Path; next, ok = s.in.Peek() {
				s.in.Next()
			}
			return
		}
	}
	if !rec.Routed() {
		// mdroute said why; pass it on for mdfail to park.
		if rec.Failed() {
			s.Out.Record(rec.Path, rec.Reason)
		} else {
			s.Out.Record(rec.Path)
		}
		s.Note(cli.Perm)
		return
	}
	if s.handBack || s.Stop.WindingDown().Err() != nil {
		// Back to new/ at once, so that the next pipeline takes it
		// without waiting for mdclaim -r (a claim is a promise to
		// finish soon). The stage gives back the rest of the input
		// there now, and ends: reading on would give back what mdclaim
		// claims again.
		if s.GiveBack(c.Path) {
			s.returned++
		}
		s.Quit()
		return
	}
	s.dests = append(s.dests[:0], handoff.Dest{List: rec.List, Subqueue: rec.Subqueue, Recipient: rec.Recipient})
	if rec.Counted() {
		if !s.gather(rec) {
			return
		}
	} else {
		s.adjacent(rec)
	}
	// The hand-off in hand is abandoned once the stop is over.
	over := s.Stop.Over()
	err = s.sw.Sweep(over, c, s.dests)
	if s.batch++; s.batch >= maxBatch {
		s.commit()
	}
	switch {
	case err == nil:
		if s.Log.Verbose {
			for _, d := range s.dests {
				s.Log.Info("handed off '%s': %s %s", c.Path, d.List, d.Subqueue)
			}
		}
	case errors.Is(err, handoff.ErrDeferred):
		// Its schedule, on disk (mdpipe(7), the deferred state): not a
		// failure of this run.
	case errors.Is(err, fault.ErrGone):
		// Never silent: a lost split once looked exactly like this.
		s.Log.Path("no such claim", c.Path, err)
	case fault.IsTemporary(err):
		s.Log.Path("cannot hand off or defer; left claimed", c.Path, err)
		s.Note(cli.Temp)
	default:
		s.Log.Path("cannot hand off", c.Path, err)
		s.Out.Record(c.Path, record.CleanReason(err.Error()))
		s.Note(cli.Perm)
	}
	if over.Err() != nil {
		// The stop is over: what is left of the input is given back.
		s.handBack = true
	}
}
