// Package mdsweep is mdsweep's command line (see package tool). It is a
// package of its own because its LMTP client (go-smtp, and through it
// crypto/tls) costs several milliseconds of CPU at each start of every
// program that links it, and mdclaim, mdroute and mdfail need none of
// it.
package mdsweep

import (
	"errors"
	"fmt"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/envelope"
	"mdpipe/internal/handoff"
	"mdpipe/internal/stage"
)

const mdsweepUsage = "mdsweep [-v] [-s] (-q queue [-C] | -c command [-e delims] | -l lmtp-address) [-T timeout] [path-record ...]"

// Main is mdsweep: it hands each routed claim off to its list queue.
func Main(args []string) int {
	fs := cli.NewFlags("mdsweep")
	queue := fs.String("q", "MDSWEEP_QUEUE", "", "hand off into the maildir tree `queue`/LIST/SUBQUEUE/")
	command := fs.String("c", "MDSWEEP_COMMAND", "", "hand off by running `command` through /bin/sh, the message on stdin")
	lmtp := fs.String("l", "MDSWEEP_LMTP", "", "hand off over LMTP to `address` (host:port, or a unix socket path; several, comma-separated, tried in order)")
	// -t once bounded a wait on one failing message; mdsweep no longer
	// waits on one (a temporary failure defers it), so it is accepted
	// for the configurations that set it, and ignored.
	giveUp := fs.Duration("t", "MDSWEEP_GIVEUP", 0, "ignored: a temporary failure defers the message (kept for old configurations)")
	timeout := fs.Duration("T", "MDSWEEP_TIMEOUT", 10*time.Minute, "kill a command that runs longer than `duration`; temporary failure")
	// Its own, not mdroute's MDROUTE_DELIMITERS: a tool reads only its
	// own variables, and a service sets the two to the same value.
	delims := fs.String("e", "MDSWEEP_DELIMITERS", "+", "with -c: the extension `delimiters` of a recipient, as mdroute -e, where DETAIL starts")
	create := fs.Bool("C", "MDSWEEP_CREATE", "with -q: make a list's directory QUEUE/LIST on its first message (default: a list exists when its directory does; mail for any other is parked: no such list)")
	noSync := fs.Bool("s", "MDSWEEP_NOSYNC", "do not fsync directories after a hand-off (faster; a crash may lose hand-offs of the last seconds)")
	verbose := fs.Bool("v", "MDSWEEP_VERBOSE", "log each hand-off")
	err := fs.Parse(args)
	var targets []string // the flags of the targets set
	for _, t := range []struct{ flag, value string }{{"q", *queue}, {"c", *command}, {"l", *lmtp}} {
		if t.value != "" {
			targets = append(targets, t.flag)
		}
	}
	switch {
	case err != nil:
	case len(targets) == 0:
		err = errors.New("one of -q, -c, -l is needed")
	case len(targets) > 1:
		// A target on the command line does not override one in the
		// environment: a service switched to LMTP with its queue still
		// set is told so rather than guessed at.
		err = fmt.Errorf("%s: choose one of -q, -c, -l", fs.Clash(targets...))
	case *create && *queue == "":
		err = fmt.Errorf("%s only goes with -q", fs.Origin("C"))
	case *lmtp != "" && len(envelope.Addresses(*lmtp)) == 0:
		err = fmt.Errorf("%s: no address in it", fs.Origin("l"))
	case *giveUp < 0:
		err = fmt.Errorf("%s: must be 0s or more", fs.Origin("t"))
	case *timeout <= 0:
		err = fmt.Errorf("%s: must be more than 0s", fs.Origin("T"))
	}
	if err != nil {
		return fs.Usage(mdsweepUsage, err)
	}
	in, err := cli.NewInput(fs.Args())
	if err != nil {
		return fs.Usage(mdsweepUsage, err)
	}
	s, ok := stage.After("mdsweep")
	if !ok {
		return int(cli.Perm)
	}
	s.Log.Verbose = *verbose
	var target handoff.Target
	switch {
	case *queue != "":
		t := &handoff.MaildirTree{Queue: *queue, Create: *create, Log: s.Log}
		t.Sync.Off = *noSync
		if err := t.Check(); err != nil {
			// Never made here: a typo must not become a queue. 111, so
			// that a supervisor retries while a mount comes up.
			s.Log.Path("no queue", *queue, fmt.Errorf("%w (mdsweep never makes it)", err))
			return int(cli.Temp)
		}
		target = t
	case *command != "":
		target = &handoff.Command{Command: *command, Timeout: *timeout, Log: s.Log, Delims: *delims}
	default:
		target = &handoff.LMTP{Address: *lmtp, Log: s.Log}
	}
	// A stop drains what the pipeline holds; nothing waits out a
	// back-off (a failing destination defers its mail). The hand-off in
	// hand is abandoned once the stop is over (sweep).
	sw := &sweeper{Stage: s, in: in, target: target,
		sw: &handoff.Sweeper{Target: target, Log: s.Log}}
	switch {
	case *queue != "":
		// A queue's maildir: QUEUE/LIST/SUBQUEUE.
		sw.sw.Keys = func(d handoff.Dest) string { return *queue + "/" + d.List + "/" + d.Subqueue }
	case *command != "":
		// The command's own rules per list (a .qmail-LIST).
		sw.sw.Keys = func(d handoff.Dest) string { return d.List }
	default:
		// The server answers per recipient; when it cannot be reached
		// at all, every recipient on it waits.
		sw.sw.Keys = func(d handoff.Dest) string { return d.Recipient }
		sw.sw.Server = "lmtp " + *lmtp
	}
	sw.sw.InputReads(in.Reads)
	s.Each(in, stage.Commits{Pause: sw.pause, Quiet: sw.commit}, sw.sweep)
	sw.sw.Unwatch()
	if err := target.Close(); err != nil {
		s.Log.Printf("%v", err)
		s.Note(cli.Temp)
	}
	if sw.returned > 0 {
		s.Log.Printf("stopping: returned %d claims to new/ without handing them off", sw.returned)
	}
	status := s.End()
	sw.sw.Close()
	return status
}
