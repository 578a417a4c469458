package tool

import (
	"path/filepath"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/intake"
	"mdpipe/internal/watch"
)

const mdclaimUsage = "mdclaim [-f | -w] [-n max] [-r age] [-x] [-i interval] maildir"

// cleanEvery is how often a follow run removes stale intake tmp/ files.
const cleanEvery = time.Hour

// Mdclaim claims messages from an intake maildir's new/ (or, with -x, its
// parked failures) and prints the path of each claim.
func Mdclaim(args []string) int {
	fs := cli.NewFlags("mdclaim")
	max := fs.Int("n", "MDCLAIM_MAX", 0, "claim at most `max` messages (0: all there are)")
	wait := fs.Bool("w", "MDCLAIM_WAIT", "wait until at least one message can be claimed")
	follow := fs.Bool("f", "MDCLAIM_FOLLOW", "follow: never exit; claim, print, wait, repeat")
	age := fs.Duration("r", "MDCLAIM_RECOVER", 0, "first return claims older than `age` that nobody holds a lock on to new/ (with -f: also every age/2; default 0: none)")
	retry := fs.Bool("x", "MDCLAIM_RETRY", "claim the failed (cur/B:1,X) messages instead")
	rescan := fs.Duration("i", "MDCLAIM_RESCAN", 5*time.Minute, "with -w or -f, rescan new/ at least every `interval` even without a wake-up")
	err := fs.Parse(args,
		cli.AtMostOne("w", "f"),
		cli.AtLeast(0, "n"),
		cli.AtLeast(0, "r"),
		cli.Above(0, "i"),
		cli.Operands("maildir", 1, 1),
	)
	if err != nil {
		return usage(fs, mdclaimUsage, err)
	}
	r := newRun("mdclaim")
	r.onStop(nil)
	c := &intake.Claimer{Maildir: fs.Arg(0), Log: r.log, Retry: *retry, Guard: r.stop}
	return r.claim(c, *max, *wait, *follow, *age, *rescan)
}

func (r *run) claim(c *intake.Claimer, max int, wait, follow bool, age, rescan time.Duration) int {
	var w *watch.Watcher
	if wait || follow {
		dir := filepath.Join(c.Maildir, "new")
		if c.Retry {
			dir = filepath.Join(c.Maildir, "cur")
		}
		// Watch before the first scan: a delivery during the scan then
		// wakes the wait that follows it.
		var err error
		if w, err = watch.New(dir); err != nil {
			r.log.Printf("no inotify on %s, polling every %v: %v", dir, watch.PollInterval, err)
		}
		defer w.Close()
	}
	var nextRecover, nextClean time.Time
	now := time.Now()
	if age > 0 {
		r.recover(c.Maildir, age)
		nextRecover = now.Add(age / 2)
	}
	if follow {
		r.cleanTmp(c.Maildir)
		nextClean = now.Add(cleanEvery)
	}
	outFd := cli.PipeFd(1)
	claimed := 0
	for {
		left := 0
		if max > 0 {
			left = max - claimed
		}
		res, err := c.Scan(left, func(path string) { r.out.Record(path) })
		claimed += res.Claimed
		r.note(res.Status)
		r.stop.Hold()
		if ferr := r.out.Flush(); ferr != nil {
			r.stop.Release()
			r.outputFailed(ferr)
			return r.exit()
		}
		r.stop.Release()
		if err != nil {
			r.log.Printf("%v", err)
			if !follow && !wait {
				r.note(cli.Temp)
				return r.exit()
			}
		}
		if max > 0 && claimed >= max {
			break
		}
		if res.More && err == nil {
			continue
		}
		if !follow && (!wait || claimed > 0) {
			break
		}
		timeout := rescan
		if err != nil {
			timeout = min(timeout, 10*time.Second) // the maildir may come back
		}
		if follow {
			now := time.Now()
			if age > 0 {
				if !now.Before(nextRecover) {
					r.recover(c.Maildir, age)
					nextRecover = now.Add(age / 2)
					continue
				}
				timeout = min(timeout, nextRecover.Sub(now))
			}
			if !now.Before(nextClean) {
				r.cleanTmp(c.Maildir)
				nextClean = now.Add(cleanEvery)
			}
		}
		if w.Wait(timeout, outFd) {
			if !r.stopPending(cli.ErrDownstreamGone) {
				r.log.Printf("%v", cli.ErrDownstreamGone)
				r.note(cli.Temp)
			}
			return r.exit()
		}
	}
	if claimed == 0 {
		r.note(cli.None)
	}
	return r.end()
}

func (r *run) recover(maildir string, age time.Duration) {
	err := intake.Recover(maildir, age, func(claim, back string) {
		r.log.Printf("returned '%s' to new/: claimed more than %v ago and not locked", claim, age)
	})
	if err != nil {
		r.log.Printf("recovery: %v", err)
	}
}

func (r *run) cleanTmp(maildir string) {
	if err := intake.CleanTmp(maildir); err != nil {
		r.log.Printf("cleaning %s: %v", filepath.Join(maildir, "tmp"), err)
	}
}
