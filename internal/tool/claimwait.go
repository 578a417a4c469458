package tool

import (
	"context"
	"path/filepath"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/intake"
	"mdpipe/internal/watch"
)

// What mdclaim's loop does between batches: its waits, and the upkeep
// of the intake.

// open sets up the waits: for mail (-w, -f), and for claims handed off
// or parked (the bound).
func (m *claimer) open() bool {
	m.outFd = cli.PipeFd(1)
	if m.wait || m.follow {
		dir := filepath.Join(m.c.Maildir, "new")
		if m.c.Retry {
			dir = filepath.Join(m.c.Maildir, "cur")
		}
		// Watch before the first scan: a delivery during the scan then
		// wakes the wait that follows it.
		var err error
		if m.w, err = watch.New(dir); err != nil {
			m.Log.Printf("no inotify on %s, polling every %v: %v", dir, watch.PollInterval, err)
		}
	}
	if m.bound > 0 {
		cur := filepath.Join(m.c.Maildir, "cur")
		held, err := watch.NewHeld(cur)
		if held == nil {
			m.Log.Printf("cannot read '%s': %v", cur, err)
			m.Note(cli.Temp)
			return false
		}
		if err != nil {
			m.Log.Printf("no inotify on %s, looking claims up instead: %v", cur, err)
		}
		m.held = held
	}
	return true
}

func (m *claimer) close() {
	if m.w != nil {
		m.w.Close()
	}
	if m.held != nil {
		m.held.Close()
	}
	m.c.Close()
}

// atBound reports whether mdclaim may claim nothing now (mdpipe(7),
// RULES: bounded claims): see room.
func (m *claimer) atBound() bool {
	if m.held == nil {
		return false
	}
	m.held.Update()
	return m.room(m.held.Len()) == 0
}

// room returns how many claims mdclaim may make now, and write before it
// claims more, while it holds held. A refill begins once a quarter of the
// bound is free and runs on to the bound, a quarter at a time; between
// refills mdclaim claims nothing. Each quarter is written as soon as it
// is claimed, so that the stages after mdclaim start on it while mdclaim
// claims the next.
//
// Why a quarter: topping up to the bound at each look claimed the two or
// three done since the last; on the bench's backlog that was a write to
// the next stage for every six messages, not every sixteen, and the
// stages after it woke as often. Refills that began at a half or an
// eighth of -k 64 free were no faster.
//
// Why written a quarter at a time: a refill claimed whole and then
// written reached mdsweep only after mdclaim's last rename of it, and
// mdsweep, alone with what it had left, often ran out of work meanwhile:
// in one traced drain of the bench's 20,000 messages it waited for input
// 570 times, against 270 times without the bound. Written a quarter at a
// time, the bounded drain took about 3.5% less time (the median of 10
// and of 12 interleaved pairs of drains); a 15-round make bench, whose
// rounds each vary by 8 to 11% on two CPUs, could not resolve a change
// that small.
func (m *claimer) room(held int) int {
	switch {
	case held >= m.bound:
		m.refilling = false
	case held <= m.refillAt():
		m.refilling = true
	}
	if !m.refilling {
		return 0
	}
	return min(m.quarter(), m.bound-held)
}

// quarter is a quarter of the bound, at least one.
func (m *claimer) quarter() int { return max(1, m.bound/4) }

// refillAt is how many claims mdclaim may hold for a refill to begin:
// the bound less a quarter of it.
func (m *claimer) refillAt() int { return m.bound - m.quarter() }

// upkeep returns old claims nobody holds to new/ (-r) and removes stale
// tmp/ files (-f), each when it is due. It reports whether the recovery
// ran.
func (m *claimer) upkeep() (recovered bool) {
	now := time.Now()
	if m.age > 0 && !now.Before(m.nextRecover) {
		said := make(map[string]bool)
		err := intake.Recover(m.c.Maildir, m.age, func(claim, back string) {
			m.Log.Printf("returned '%s' to new/: claimed more than %v ago and not locked", claim, m.age)
		}, func(claim string, why error) {
			// Once a name while it stays, not at every recovery.
			if !m.unrecovered[claim] {
				m.Log.Path("not recovering", claim, why)
				m.Note(cli.Perm)
			}
			said[claim] = true
		})
		m.unrecovered = said
		if err != nil {
			m.Log.Printf("recovery: %v", err)
		}
		m.nextRecover, recovered = now.Add(m.age/2), true
	}
	if m.follow && !now.Before(m.nextClean) {
		if err := intake.CleanTmp(m.c.Maildir); err != nil {
			m.Log.Printf("cleaning %s: %v", filepath.Join(m.c.Maildir, "tmp"), err)
		}
		m.nextClean = now.Add(cleanEvery)
	}
	return recovered
}

// sleep waits for mail, or, at the bound, until a quarter of the bound
// is handed off or parked, so that the stages work in batches, not one
// wake-up a message; at most until the rescan (sooner after a failed
// scan: the maildir may come back) or the next recovery. It reports
// whether the next stage is gone.
func (m *claimer) sleep(ctx context.Context, full bool, scanErr error) (downstreamGone bool) {
	timeout := m.rescan
	if scanErr != nil {
		timeout = min(timeout, 10*time.Second)
	}
	if m.follow && m.age > 0 {
		timeout = min(timeout, time.Until(m.nextRecover))
	}
	if d, ok := m.dueWait(time.Now()); ok && !full {
		// At the bound nothing can be claimed, deferred or not: the
		// wait for claims to go wakes the next scan.
		timeout = min(timeout, d)
	}
	if full {
		return m.held.Wait(ctx, m.refillAt(), timeout, m.outFd)
	}
	return m.w.Wait(ctx, timeout, m.outFd)
}
