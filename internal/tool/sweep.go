package tool

import (
	"errors"
	"fmt"
	"time"

	"mdpipe/internal/cli"
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

	handBack bool   // a stop found the hand-off failing: hand off no more
	returned int    // claims given back to new/ (giveBack)
	lastBack string // the claim given back last: its other records skip
}

// maxBatch bounds a batch under a steady backlog, when the input never
// idles: the hand-offs of one batch are at most that many messages away
// from durable.
const maxBatch = 256

func (s *sweeper) commit() {
	s.batch = 0
	if err := s.target.Commit(); err != nil {
		s.Log.Printf("%v", err)
		s.Note(cli.Temp)
	}
}

// recordWait bounds the wait for the rest of a message's records. The
// tool before mdsweep writes them together, so they come at once unless it
// died or stopped half-way.
const recordWait = 10 * time.Second

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
		s.Out.Record(rec.Path)
		s.Note(cli.Perm)
		return
	}
	if s.handBack || s.Stop.WindingDown().Err() != nil {
		s.giveBack(rec.Path)
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
	err = s.sw.Sweep(s.Stop.Over(), c, s.dests)
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
	case err == handoff.ErrNoClaim:
		// Never silent: a lost split once looked exactly like this.
		s.Log.Path("no such claim", c.Path, err)
	case errors.Is(err, handoff.ErrStopped):
		// The rest of the input would fail the same way: give it back.
		s.handBack = true
	case errors.Is(err, handoff.ErrGaveUp):
		s.Note(cli.Temp)
		s.Quit()
	default:
		s.Log.Path("cannot hand off", c.Path, err)
		s.Out.Record(c.Path)
		s.Note(cli.Perm)
	}
}

// giveBack returns the claim of a record that mdsweep stops before
// handing off to new/ at once, so that the next pipeline takes it
// without waiting for mdclaim -r (a claim is a promise to finish soon).
// A claim whose hand-off is under way or waits for its commit is locked,
// and GiveBack leaves it; the records after the first that name the same
// claim are skipped, so that a claim given back and claimed again by
// another runner meanwhile is never taken from it.
func (s *sweeper) giveBack(path string) {
	if path == s.lastBack {
		return
	}
	s.lastBack = path
	back, err := intake.GiveBack(path)
	if err != nil {
		s.Log.Printf("%v", err)
		s.Note(cli.Temp)
	}
	if back {
		s.returned++
	}
}

// gather reads the rest of a counted message's records, 2/N to N/N, into
// s.dests. It waits for them (bounded), since they may still be on their
// way. A message that stays incomplete is not handed off at all: a part
// of its destinations now and the rest never would be a silent loss. It
// stays claimed for mdclaim -r, which sends it down the pipeline whole.
func (s *sweeper) gather(rec record.Record) bool {
	if rec.Index != 1 {
		// The tail of a message whose head we gave up on, or a broken
		// writer: skip all of it that is here, with one line.
		n := 1
		for {
			next, ok := s.in.Peek()
			if !ok || record.PathOf(next) != rec.Path {
				break
			}
			s.in.Next()
			n++
		}
		s.Log.Path("incomplete message", rec.Path,
			fmt.Errorf("%d record(s) from %s on, without the ones before; not handed off, left claimed", n, record.Count(rec.Index, rec.Count)))
		s.Note(cli.Temp)
		return false
	}
	for len(s.dests) < rec.Count {
		next, ok := s.in.PeekWithin(s.Stop.WindingDown(), recordWait)
		var more record.Record
		var err error
		if ok {
			more, err = record.Parse(next)
		}
		if !ok || err != nil || more.Path != rec.Path || more.Count != rec.Count || more.Index != len(s.dests)+1 {
			// The record after is not ours: it stays for the next sweep.
			why := fmt.Errorf("%d of %d records came; not handed off, left claimed", len(s.dests), rec.Count)
			if !ok && s.Stop.WindingDown().Err() != nil {
				why = fmt.Errorf("stopped after %d of %d records; not handed off, left claimed", len(s.dests), rec.Count)
			}
			s.Log.Path("incomplete message", rec.Path, why)
			s.Note(cli.Temp)
			return false
		}
		s.in.Next()
		s.dests = append(s.dests, handoff.Dest{List: more.List, Subqueue: more.Subqueue, Recipient: more.Recipient})
	}
	return true
}

// adjacent adds to s.dests the records without a count (typed by hand)
// right after rec that name the same path and are there to read.
func (s *sweeper) adjacent(rec record.Record) {
	for {
		next, ok := s.in.Peek()
		if !ok || record.PathOf(next) != rec.Path {
			return
		}
		more, err := record.Parse(next)
		if err == nil && more.Counted() {
			return // another message's, for the next sweep
		}
		s.in.Next()
		if err != nil || !more.Routed() {
			continue // a bare duplicate of a routed path adds nothing
		}
		s.dests = append(s.dests, handoff.Dest{List: more.List, Subqueue: more.Subqueue, Recipient: more.Recipient})
	}
}
