// Package stage is the one runtime of the mdpipe tools: the record loop,
// the flush and commit when the input is idle, the stop (stop.go), the
// next stage gone, and the exit status. Each tool is a handler of it:
// its own file says what to do with one record, and its main returns
// the status (nothing here exits the process).
package stage

import (
	"errors"
	"io"
	"syscall"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/intake"
	"mdpipe/internal/record"
)

// Stage is one run of a tool.
type Stage struct {
	Log  *cli.Log
	Out  *cli.Output
	Stop *Stop

	status    cli.Status // the worst status noted
	sinceStop cli.Status // the worst status noted once a stop began
	quit      bool
	outErr    error // the write error said already
	read      int   // records handled (Each), for the line a stop logs

	returned int    // claims given back to new/ (giveBack)
	lastBack string // the path given back last: its other records skip
}

// New returns the run of the tool prog, writing records to stdout, with
// its stop listening for the signals (Listen). grace is how long it
// drains at a stop before the wind-down (Grace).
func New(prog string, grace time.Duration) *Stage {
	return &Stage{Log: cli.NewLog(prog), Out: cli.NewOutput(), Stop: Listen(grace)}
}

// After starts the run of a stage after mdclaim, which drains at a stop
// for the grace $MDPIPE_GRACE sets (Grace). A bad $MDPIPE_GRACE is a
// usage error: it says so, and ok is false.
func After(prog string) (s *Stage, ok bool) {
	grace, err := Grace()
	if err != nil {
		cli.NewLog(prog).Printf("%v", err)
		return nil, false
	}
	return New(prog, grace), true
}

// Note raises the run's status. What is noted once a stop began is all
// a stop's status is made of: a stop is no failure, whatever inputs were
// bad before it (mdpipe(7), RULES: a clean stop).
func (s *Stage) Note(st cli.Status) {
	s.status = cli.Worse(s.status, st)
	if s.Stop.Stopping() {
		s.sinceStop = cli.Worse(s.sinceStop, st)
	}
}

// Status returns the exit status so far.
func (s *Stage) Status() cli.Status {
	if s.Stop.Stopping() {
		return s.sinceStop
	}
	return s.status
}

// Quit makes the record loop (Each) read no more input.
func (s *Stage) Quit() { s.quit = true }

// OutputFailed notes a write that failed: the next stage gone (EPIPE),
// or any other error, is temporary, unless a stop is under way or
// pending (Stop.pending).
func (s *Stage) OutputFailed(err error) {
	if err == s.outErr {
		return // the same error again, from the flush at the end
	}
	s.outErr = err
	if errors.Is(err, syscall.EPIPE) {
		err = cli.ErrDownstreamGone
	}
	if s.StopPending(err) {
		return
	}
	s.Log.Printf("cannot write output: %v", err)
	s.Note(cli.Temp)
}

// StopPending reports whether err, a failed write or wait, is part of a
// stop: one is under way, or err says the next stage is gone and this
// stage's own signal comes soon after.
func (s *Stage) StopPending(err error) bool {
	if s.Stop.Stopping() {
		return true
	}
	return errors.Is(err, cli.ErrDownstreamGone) && s.Stop.pending()
}

// Commits says when a stage makes its work durable: Pause at every pause
// of its input (before the output is flushed, so that what it writes is
// durable first), Quiet once its input has stayed quiet for QuietAfter.
// Both run at the end of the input too.
type Commits struct {
	Pause, Quiet func()
}

// QuietAfter is how long the input must stay quiet for Commits.Quiet: far
// longer than the pauses of a stage that keeps up with a backlog under
// mdclaim's bound (a refill of the pipeline, well under a millisecond),
// far shorter than a person notices.
const QuietAfter = 5 * time.Millisecond

// Each runs handle on every input record, and the commits and a flush of
// the output when the input has nothing more waiting: work is grouped
// over what is already waiting, and no record is held while the stage
// blocks. It returns when the input ends, the next stage has gone, a
// write failed, the handler quit (Quit), or the stop is over (Stop.Over).
func (s *Stage) Each(in *cli.Input, commits Commits, handle func(line []byte)) {
	in.OnIdle(func() {
		if commits.Pause != nil {
			commits.Pause()
		}
		if err := s.Out.Flush(); err != nil {
			s.OutputFailed(err)
		}
	})
	if commits.Quiet != nil {
		in.OnQuiet(QuietAfter, commits.Quiet)
	}
	in.StopWaits(s.Stop.Over())
	ended := false
	for s.Out.Err() == nil && !s.quit {
		line, err := in.Next()
		if errors.Is(err, cli.ErrRecordTooLong) {
			s.Log.Printf("reading input: %v", err)
			s.Note(cli.Perm)
			continue
		}
		if errors.Is(err, io.EOF) {
			ended = true
			break
		}
		if err != nil && s.Stop.Over().Err() != nil {
			break
		}
		if errors.Is(err, cli.ErrDownstreamGone) {
			s.OutputFailed(err)
			break
		}
		if err != nil {
			s.Log.Printf("reading input: %v", err)
			s.Note(cli.Temp)
			break
		}
		s.read++
		handle(line)
	}
	for _, commit := range []func(){commits.Pause, commits.Quiet} {
		if commit != nil {
			commit()
		}
	}
	if !ended {
		// Stopping with input left: its claims go back to new/, or
		// they would stay claimed until mdclaim -r.
		in.Left(s.giveBack)
	}
}

// End flushes the output and returns the exit status. It waits, for at
// most settleLimit, until the next stage has read what the pipe between
// them holds, or has gone: the claims of the records it will never read
// then go back to new/. After a stop it says so in one line, with what
// the stage did: an operator reading the log of a supervised service
// sees each stage end, and how much it handled.
func (s *Stage) End() int {
	if err := s.Out.Flush(); err != nil {
		s.OutputFailed(err)
	}
	s.Out.Settle(settleLimit)
	s.Out.Unread(s.giveBack)
	switch {
	case s.Stop.Stopping() && s.returned > 0:
		s.Log.Printf("stopped: %d records read, %d written, %d claims returned to new/", s.read, s.Out.Records(), s.returned)
	case s.Stop.Stopping():
		s.Log.Printf("stopped: %d records read, %d written", s.read, s.Out.Records())
	case s.returned > 0:
		s.Log.Printf("returned %d claims to new/ that this pipeline will not hand off", s.returned)
	}
	return int(s.Status())
}

// settleLimit bounds End's wait for the next stage to read the pipe or
// go: the wind-down of a stop takes at most 2 s, after which the next
// stage has gone.
const settleLimit = 3 * time.Second

// giveBack gives back the claim of a record the next stage will never
// read (GiveBack).
func (s *Stage) giveBack(line []byte) { s.GiveBack(record.PathOf(line)) }

// GiveBack returns the claim at path, which this stage will not pass on,
// to new/ (mdpipe(7), RULES: a clean stop): a stop leaves nothing
// claimed, whichever stage it reaches first and however often. A claim
// locked by a hand-off under way, or gone, is left as it is. The records
// after the first that name the same claim are skipped (a message with
// several destinations), so that a claim given back and claimed again
// meanwhile is not taken from its new holder. A path that is not a claim
// (an X that mdfail printed) is no business of this. It reports whether
// the claim went back.
func (s *Stage) GiveBack(path string) bool {
	if path == s.lastBack {
		return false
	}
	s.lastBack = path
	c, err := intake.ParseClaim(path)
	if err != nil {
		return false
	}
	back, err := c.GiveBack()
	if err != nil {
		s.Log.Printf("%v", err)
		s.Note(cli.Temp)
	}
	if back {
		s.returned++
	}
	return back
}
