package mdsweep

import (
	"fmt"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/handoff"
	"mdpipe/internal/record"
)

// A message with several destinations comes as several records; these
// gather them for one hand-off.

// recordWait bounds the wait for the rest of a message's records. The
// tool before mdsweep writes them together, so they come at once unless it
// died or stopped half-way.
const recordWait = 10 * time.Second

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
			if !ok && s.Stop.WindingDown().Err() != nil {
				// The wind-down's doing, not a failure: said, and
				// left for mdclaim -r, as a hand-off it abandons.
				s.Log.Path("incomplete message", rec.Path,
					fmt.Errorf("stopped after %d of %d records; not handed off, left claimed", len(s.dests), rec.Count))
				return false
			}
			s.Log.Path("incomplete message", rec.Path,
				fmt.Errorf("%d of %d records came; not handed off, left claimed", len(s.dests), rec.Count))
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
