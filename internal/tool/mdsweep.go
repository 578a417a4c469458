package tool

import (
	"errors"
	"fmt"
	"os"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/handoff"
	"mdpipe/internal/intake"
	"mdpipe/internal/record"

	"golang.org/x/sys/unix"
)

const mdsweepUsage = "mdsweep [-v] [-s] (-q queue [-C] | -c command | -l lmtp-address) [-t give-up-after] [-T timeout] [path-record ...]"

// Mdsweep hands each routed claim off to its list queue.
func Mdsweep(args []string) int {
	fs := cli.NewFlags("mdsweep")
	queue := fs.String("q", "MDSWEEP_QUEUE", "", "hand off into the maildir tree `queue`/LIST/SUBQUEUE/")
	command := fs.String("c", "MDSWEEP_COMMAND", "", "hand off by running `command` through /bin/sh, the message on stdin")
	lmtp := fs.String("l", "MDSWEEP_LMTP", "", "hand off over LMTP to `address` (host:port, or a unix socket path; several, comma-separated, tried in order)")
	giveUp := fs.Duration("t", "MDSWEEP_GIVEUP", 0, "give up on a temporary failure after `duration` and exit 111, leaving the message claimed (0: retry for ever)")
	timeout := fs.Duration("T", "MDSWEEP_TIMEOUT", 10*time.Minute, "kill a command that runs longer than `duration`; temporary failure")
	create := fs.Bool("C", "MDSWEEP_CREATE", "with -q: make a list's directory QUEUE/LIST on its first message (default: a list exists when its directory does; mail for any other is parked: no such list)")
	noSync := fs.Bool("s", "MDSWEEP_NOSYNC", "do not fsync directories after a hand-off (faster; a crash may lose hand-offs of the last seconds)")
	verbose := fs.Bool("v", "MDSWEEP_VERBOSE", "log each hand-off")
	err := fs.Parse(args,
		cli.OneOf("q", "c", "l"),
		cli.Requires("C", "q"),
		cli.Check("l", func(v string) error {
			if len(handoff.Addresses(v)) == 0 {
				return errors.New("no address in it")
			}
			return nil
		}),
		cli.AtLeast(0, "t"),
		cli.Above(0, "T"),
	)
	if err != nil {
		return usage(fs, mdsweepUsage, err)
	}
	in, err := cli.NewInput(fs.Args())
	if err != nil {
		return usage(fs, mdsweepUsage, err)
	}
	r := newRun("mdsweep")
	r.log.Verbose = *verbose
	var target handoff.Target
	switch {
	case *queue != "":
		t := &handoff.MaildirTree{Queue: *queue, Create: *create, Log: r.log}
		t.Sync.Off = *noSync
		if err := t.Check(); err != nil {
			// Never made here: a typo must not become a queue. 111, so
			// that a supervisor retries while a mount comes up.
			r.log.Path("no queue", *queue, fmt.Errorf("%w (mdsweep never makes it)", err))
			return int(cli.Temp)
		}
		target = t
	case *command != "":
		// DETAIL splits the recipient at mdroute's delimiters.
		target = &handoff.Command{Command: *command, Timeout: *timeout, Log: r.log,
			Delims: os.Getenv("MDROUTE_DELIMITERS")}
	default:
		target = &handoff.LMTP{Address: *lmtp, Log: r.log}
	}
	if !r.onDrain(func() {
		if err := target.Close(); err != nil {
			r.log.Printf("%v", err)
			r.note(cli.Temp)
		}
	}) {
		return int(cli.Perm)
	}
	// A stop drains what the pipeline holds, but never waits out a
	// back-off: a hand-off that is failing would not drain anyway.
	s := &sweeper{run: r, in: in, target: target,
		sw: &handoff.Sweeper{Target: target, Log: r.log, GiveUp: *giveUp, Stop: r.stop.Draining()}}
	r.each(in, s.commit, s.sweep)
	// Held: a stop under way closes the target itself (onStop above).
	r.stop.Hold()
	if err := target.Close(); err != nil {
		r.log.Printf("%v", err)
		r.note(cli.Temp)
	}
	if s.returned > 0 {
		r.log.Printf("stopping: returned %d claims to new/ without handing them off", s.returned)
	}
	r.stop.Release()
	return r.end()
}

type sweeper struct {
	*run
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
		s.log.Printf("%v", err)
		s.note(cli.Temp)
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
		s.log.Path("bad record for", rec.Path, err)
		s.note(cli.Perm)
		return
	}
	c, err := intake.ParseClaim(rec.Path)
	if err != nil {
		s.log.Path("", rec.Path, err)
		s.note(cli.Perm)
		return
	}
	if s.in.FromOperands() {
		// A path typed, or passed, as an operand: say when it is not
		// there. (A record on stdin whose claim is gone was acted on by
		// someone else first, and is skipped quietly: DESIGN rule 1.)
		var st unix.Stat_t
		if err := unix.Lstat(c.Path, &st); err == unix.ENOENT {
			s.log.Path("", c.Path, err)
			s.note(cli.Perm)
			for next, ok := s.in.Peek(); ok && record.PathOf(next) == rec.Path; next, ok = s.in.Peek() {
				s.in.Next()
			}
			return
		}
	}
	if !rec.Routed() {
		// mdroute said why; pass it on, with its reason, for mdfail to park.
		if rec.Failed() {
			s.out.Record(rec.Path, rec.Reason)
		} else {
			s.out.Record(rec.Path)
		}
		s.note(cli.Perm)
		return
	}
	if s.handBack || s.stopping() {
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
	err = s.sw.Sweep(c, s.dests)
	if s.batch++; s.batch >= maxBatch {
		s.commit()
	}
	switch {
	case err == nil:
		if s.log.Verbose {
			for _, d := range s.dests {
				s.log.Info("handed off '%s': %s %s", c.Path, d.List, d.Subqueue)
			}
		}
	case err == handoff.ErrNoClaim:
		// Never silent: a lost split once looked exactly like this.
		s.log.Path("no such claim", c.Path, err)
	case errors.Is(err, handoff.ErrStopped):
		// The rest of the input would fail the same way: give it back.
		s.handBack = true
	case errors.Is(err, handoff.ErrGaveUp):
		s.note(cli.Temp)
		s.quit = true
	default:
		s.log.Path("cannot hand off", c.Path, err)
		s.out.Record(c.Path, record.CleanReason(err.Error()))
		s.note(cli.Perm)
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
		s.log.Printf("%v", err)
		s.note(cli.Temp)
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
		s.log.Path("incomplete message", rec.Path,
			fmt.Errorf("%d record(s) from %s on, without the ones before; not handed off, left claimed", n, record.Count(rec.Index, rec.Count)))
		s.note(cli.Temp)
		return false
	}
	for len(s.dests) < rec.Count {
		next, ok := s.in.PeekWithin(recordWait, s.stop.Stopping())
		var more record.Record
		var err error
		if ok {
			more, err = record.Parse(next)
		}
		if !ok || err != nil || more.Path != rec.Path || more.Count != rec.Count || more.Index != len(s.dests)+1 {
			// The record after is not ours: it stays for the next sweep.
			why := fmt.Errorf("%d of %d records came; not handed off, left claimed", len(s.dests), rec.Count)
			if !ok && s.stopping() {
				why = fmt.Errorf("stopped after %d of %d records; not handed off, left claimed", len(s.dests), rec.Count)
			}
			s.log.Path("incomplete message", rec.Path, why)
			s.note(cli.Temp)
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
