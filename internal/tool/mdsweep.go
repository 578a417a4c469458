package tool

import (
	"errors"
	"os"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/handoff"
	"mdpipe/internal/intake"
	"mdpipe/internal/record"
)

const mdsweepUsage = "mdsweep [-v] [-s] (-q queue | -c command | -l lmtp-address) [-t give-up-after] [-T timeout] [path-record ...]"

// Mdsweep hands each routed claim off to its list queue.
func Mdsweep(args []string) int {
	fs := cli.NewFlags("mdsweep")
	queue := fs.String("q", "MDSWEEP_QUEUE", "", "hand off into the maildir tree `queue`/LIST/SUBQUEUE/")
	command := fs.String("c", "MDSWEEP_COMMAND", "", "hand off by running `command` through /bin/sh, the message on stdin")
	lmtp := fs.String("l", "MDSWEEP_LMTP", "", "hand off over LMTP to `address` (host:port, or a unix socket path)")
	giveUp := fs.Duration("t", "MDSWEEP_GIVEUP", 0, "give up on a temporary failure after `duration` and exit 111, leaving the message claimed (0: retry for ever)")
	timeout := fs.Duration("T", "MDSWEEP_TIMEOUT", 10*time.Minute, "kill a command that runs longer than `duration`; temporary failure")
	noSync := fs.Bool("s", "MDSWEEP_NOSYNC", "do not fsync directories after a hand-off (faster; a crash may lose hand-offs of the last seconds)")
	verbose := fs.Bool("v", "MDSWEEP_VERBOSE", "log each hand-off")
	if err := fs.Parse(args); err != nil {
		return usage(fs, mdsweepUsage)
	}
	n := 0
	for _, s := range []string{*queue, *command, *lmtp} {
		if s != "" {
			n++
		}
	}
	if n != 1 || *giveUp < 0 || *timeout <= 0 {
		return usage(fs, mdsweepUsage)
	}
	in, err := cli.NewInput(fs.Args())
	if err != nil {
		return usage(fs, mdsweepUsage)
	}
	r := newRun("mdsweep")
	r.log.Verbose = *verbose
	var target handoff.Target
	switch {
	case *queue != "":
		t := &handoff.MaildirTree{Queue: *queue}
		t.Sync.Off = *noSync
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

// sweep hands off one message: this record and the records right after it
// that have the same path (several destinations).
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
	if !rec.Routed() {
		// mdroute said why; pass it on for mdfail to park.
		s.out.Record(rec.Path)
		s.note(cli.Perm)
		return
	}
	s.dests = append(s.dests[:0], handoff.Dest{List: rec.List, Subqueue: rec.Subqueue, Recipient: rec.Recipient})
	for {
		next, ok := s.in.Peek()
		if !ok || record.PathOf(next) != rec.Path {
			break
		}
		line, _ := s.in.Next()
		more, err := record.Parse(line)
		if err != nil || !more.Routed() {
			continue // a bare duplicate of a routed path adds nothing
		}
		s.dests = append(s.dests, handoff.Dest{List: more.List, Subqueue: more.Subqueue, Recipient: more.Recipient})
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
	case errors.Is(err, handoff.ErrStopped):
		s.quit = true
	case errors.Is(err, handoff.ErrGaveUp):
		s.note(cli.Temp)
		s.quit = true
	default:
		s.log.Path("cannot hand off", c.Path, err)
		s.out.Record(c.Path)
		s.note(cli.Perm)
	}
}
