package tool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/intake"
	"mdpipe/internal/stage"
)

const mdclaimUsage = "mdclaim [-f | -w] [-n max] [-k claims] [-r age] [-x] [-i interval] maildir"

// cleanEvery is how often a follow run removes stale intake tmp/ files.
const cleanEvery = time.Hour

// DefaultInflight is the bound on the claims a following mdclaim holds
// (mdpipe(7), RULES: bounded claims): enough to keep every stage busy with room to spare,
// few enough that two runners share a backlog, and that the stages after
// mdclaim hand off or park all of them within the grace of a stop at 20
// messages a second.
const DefaultInflight = 64

// Mdclaim claims messages from an intake maildir's new/ (or, with -x, its
// parked failures) and prints the path of each claim.
func Mdclaim(args []string) int {
	fs := cli.NewFlags("mdclaim")
	max := fs.Int("n", "MDCLAIM_MAX", 0, "claim at most `max` messages (0: all there are)")
	wait := fs.Bool("w", "MDCLAIM_WAIT", "wait until at least one message can be claimed")
	follow := fs.Bool("f", "MDCLAIM_FOLLOW", "follow: never exit; claim, print, wait, repeat")
	inflight := fs.Int("k", "MDCLAIM_INFLIGHT", DefaultInflight, "hold at most `claims` not yet handed off or parked (0: no bound; without -f, only when given)")
	age := fs.Duration("r", "MDCLAIM_RECOVER", 0, "first return claims older than `age` that nobody holds a lock on to new/ (with -f: also every age/2; default 0: none)")
	retry := fs.Bool("x", "MDCLAIM_RETRY", "claim the failed (cur/B:1,X) messages instead")
	rescan := fs.Duration("i", "MDCLAIM_RESCAN", 5*time.Minute, "with -w or -f, rescan new/ at least every `interval` even without a wake-up")
	err := fs.Parse(args)
	switch {
	case err != nil:
	case *wait && *follow:
		err = fmt.Errorf("%s: choose one of -w, -f", fs.Clash("w", "f"))
	case *max < 0:
		err = fmt.Errorf("%s: must be 0 or more", fs.Origin("n"))
	case *inflight < 0:
		err = fmt.Errorf("%s: must be 0 or more", fs.Origin("k"))
	case *age < 0:
		err = fmt.Errorf("%s: must be 0s or more", fs.Origin("r"))
	case *rescan <= 0:
		err = fmt.Errorf("%s: must be more than 0s", fs.Origin("i"))
	case fs.NArg() == 0:
		err = errors.New("no maildir given")
	case fs.NArg() > 1:
		err = fmt.Errorf("%d operands ('%s'), want one maildir", fs.NArg(), strings.Join(fs.Args(), "' '"))
	}
	if err != nil {
		return fs.Usage(mdclaimUsage, err)
	}
	bound := *inflight
	if !*follow && !fs.Given("k") {
		// A one-shot run may feed a program that reads all its input
		// before it acts (sort, xargs): a bound would never free up.
		bound = 0
	}
	s := stage.New("mdclaim", 0) // it exits at the first signal: no grace
	maildir := fs.Arg(0)
	if strings.ContainsAny(maildir, "\t\n") {
		s.Log.Path("refusing maildir", maildir, errors.New("a TAB or a newline in it cannot be carried by the record format"))
		return int(cli.Perm)
	}
	if !writable(1) {
		s.Log.Printf("no standard output (closed, or /dev/null) to print claims on: claiming nothing")
		return int(cli.Temp)
	}
	// Stream: keep the window between scans, which claim a batch at a
	// time (see writeEvery); a small -n reads only the oldest names it
	// needs.
	c := &intake.Claimer{Maildir: maildir, Log: s.Log, Retry: *retry,
		Stream: bound > 0 || *max == 0 || *max > writeEvery}
	if err := c.Check(); err != nil {
		s.Log.Printf("%v", err)
		return int(cli.Temp)
	}
	out := newClaimOut()
	defer out.restore()
	// A stop interrupts a write blocked on a full pipe.
	defer context.AfterFunc(s.Stop.Draining(), out.interrupt)()
	m := &claimer{Stage: s, c: c, out: out, max: *max, wait: *wait, follow: *follow,
		age: *age, rescan: *rescan, bound: bound}
	if m.follow {
		held, rec := fmt.Sprintf("at most %d claims held", bound), fmt.Sprintf("stranded claims returned after %v", *age)
		if bound == 0 {
			held = "no bound on claims"
		}
		if *age == 0 {
			rec = "no recovery"
		}
		s.Log.Printf("following '%s' (%s): %s, %s", maildir, cli.Version(), held, rec)
	}
	st := m.run(s.Stop.Draining())
	if s.Stop.Stopping() {
		s.Log.Printf("stopped: %d claimed, %d returned to new/", m.claimed, m.returned)
	}
	return int(st)
}
