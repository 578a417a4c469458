package tool

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/intake"
	"mdpipe/internal/watch"

	"golang.org/x/sys/unix"
)

const mdclaimUsage = "mdclaim [-f | -w] [-n max] [-k claims] [-r age] [-x] [-i interval] maildir"

// cleanEvery is how often a follow run removes stale intake tmp/ files.
const cleanEvery = time.Hour

// DefaultInflight is the bound on the claims a following mdclaim holds
// (DESIGN rule 9): enough to keep every stage busy with room to spare,
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
		return usage(fs, mdclaimUsage, err)
	}
	bound := *inflight
	if !*follow && !fs.Given("k") {
		// A one-shot run may feed a program that reads all its input
		// before it acts (sort, xargs): a bound would never free up.
		bound = 0
	}
	r := newRun("mdclaim")
	maildir := fs.Arg(0)
	if strings.ContainsAny(maildir, "\t\n") {
		r.log.Path("refusing maildir", maildir, errors.New("a TAB or a newline in it cannot be carried by the record format"))
		return int(cli.Perm)
	}
	if !writable(1) {
		r.log.Printf("no standard output (closed, or /dev/null) to print claims on: claiming nothing")
		return int(cli.Temp)
	}
	// Stream: keep the window between scans, which claim a batch at a
	// time (see writeEvery); a small -n reads only the oldest names it
	// needs.
	c := &intake.Claimer{Maildir: maildir, Log: r.log, Retry: *retry,
		Stream: bound > 0 || *max == 0 || *max > writeEvery}
	if err := c.Check(); err != nil {
		r.log.Printf("%v", err)
		return int(cli.Temp)
	}
	out := newClaimOut()
	defer out.restore()
	cl := &claimer{run: r, c: c, out: out, max: *max, wait: *wait, follow: *follow,
		age: *age, rescan: *rescan, bound: bound}
	r.onStop(out.interrupt, func() {
		// Claims made but not written: nobody downstream has seen them.
		cl.giveBack()
		out.restore()
	})
	c.Guard = r.stop
	return cl.loop()
}

// writable reports whether fd is open for writing to something that
// keeps what is written. A claim printed into nothing would wait in cur/
// for mdclaim -r. The Go runtime opens /dev/null in place of a closed
// standard descriptor, so a closed stdout looks like /dev/null.
func writable(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_ACCMODE == unix.O_RDONLY {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	devNull := st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3
	return !devNull
}

// writeEvery is how many claims mdclaim makes before it writes them: the
// stages after it start on the first while it claims the rest of a big
// backlog, and a stop finds few claims made but unwritten.
const writeEvery = 64

type claimer struct {
	*run
	c            *intake.Claimer
	out          *claimOut
	max          int
	wait, follow bool
	age, rescan  time.Duration
	bound        int
}

func (m *claimer) loop() int {
	c := m.c
	var w *watch.Watcher
	if m.wait || m.follow {
		dir := filepath.Join(c.Maildir, "new")
		if c.Retry {
			dir = filepath.Join(c.Maildir, "cur")
		}
		// Watch before the first scan: a delivery during the scan then
		// wakes the wait that follows it.
		var err error
		if w, err = watch.New(dir); err != nil {
			m.log.Printf("no inotify on %s, polling every %v: %v", dir, watch.PollInterval, err)
		}
		defer w.Close()
	}
	var held *watch.Held
	if m.bound > 0 {
		cur := filepath.Join(c.Maildir, "cur")
		var err error
		held, err = watch.NewHeld(cur)
		if held == nil {
			m.log.Printf("cannot read '%s': %v", cur, err)
			m.note(cli.Temp)
			return m.exit()
		}
		if err != nil {
			m.log.Printf("no inotify on %s, looking claims up instead: %v", cur, err)
		}
		defer held.Close()
	}
	defer c.Close()
	var nextRecover, nextClean time.Time
	now := time.Now()
	if m.age > 0 {
		m.recover(c.Maildir, m.age)
		nextRecover = now.Add(m.age / 2)
	}
	if m.follow {
		m.cleanTmp(c.Maildir)
		nextClean = now.Add(cleanEvery)
	}
	outFd := cli.PipeFd(1)
	claimed := 0
	for {
		left := 0
		if m.max > 0 {
			left = m.max - claimed
		}
		if left == 0 || left > writeEvery {
			left = writeEvery
		}
		full := false
		if held != nil {
			held.Update()
			room := m.bound - held.Len()
			full = room <= 0
			if room < left {
				left = room
			}
		}
		var res intake.Result
		var err error
		if !full {
			res, err = c.Scan(left, func(path string) {
				m.out.add(path)
				if held != nil {
					held.Add(filepath.Base(path))
				}
			})
			claimed += res.Claimed
			m.note(res.Status)
			m.stop.Hold()
			if ferr := m.out.flush(); ferr != nil {
				// Nobody will read these: back to new/ at once.
				m.giveBack()
				m.stop.Release()
				if errors.Is(ferr, syscall.EPIPE) {
					ferr = cli.ErrDownstreamGone
				}
				if !m.stopPending(ferr) {
					m.log.Printf("cannot write output: %v", ferr)
					m.note(cli.Temp)
				}
				return m.exit()
			}
			m.stop.Release()
			if err != nil {
				m.log.Printf("%v", err)
				if !m.follow && !m.wait {
					m.note(cli.Temp)
					return m.exit()
				}
			}
			if m.max > 0 && claimed >= m.max {
				break
			}
			if res.More && err == nil {
				continue
			}
			if !m.follow && (!m.wait || claimed > 0) {
				break
			}
		}
		timeout := m.rescan
		if err != nil {
			timeout = min(timeout, 10*time.Second) // the maildir may come back
		}
		if m.follow {
			now := time.Now()
			if m.age > 0 {
				if !now.Before(nextRecover) {
					m.recover(c.Maildir, m.age)
					nextRecover = now.Add(m.age / 2)
					continue
				}
				timeout = min(timeout, nextRecover.Sub(now))
			}
			if !now.Before(nextClean) {
				m.cleanTmp(c.Maildir)
				nextClean = now.Add(cleanEvery)
			}
		}
		var gone bool
		if full {
			// At the bound: wait until some claims are handed off or
			// parked, a quarter of the bound, so that the stages work
			// in batches, not one wake-up a message.
			gone = held.Wait(m.bound-max(1, m.bound/4), timeout, outFd)
		} else {
			gone = w.Wait(timeout, outFd)
		}
		if gone {
			if !m.stopPending(cli.ErrDownstreamGone) {
				m.log.Printf("%v", cli.ErrDownstreamGone)
				m.note(cli.Temp)
			}
			return m.exit()
		}
	}
	if claimed == 0 {
		m.note(cli.None)
	}
	return m.exit()
}

// giveBack returns the claims that could not be written to new/. The
// caller holds the Stopper, which the stop's own give-back takes too.
func (m *claimer) giveBack() {
	for _, p := range m.out.unwritten() {
		if _, err := intake.GiveBack(p); err != nil {
			m.log.Printf("%v", err)
		}
	}
	m.out.claims, m.out.ends, m.out.buf = nil, nil, nil
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
