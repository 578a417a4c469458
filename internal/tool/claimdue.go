package tool

import (
	"path/filepath"
	"time"

	"mdpipe/internal/intake"
)

// The deferred messages mdclaim claims again when their next try comes
// (mdpipe(7), the deferred state): a scan of cur/ at most once a second,
// when one of the deferred messages it saw is due, or while claims it
// made may still be deferred by the stages after it. With everything
// deferred, it sleeps until the earliest next try: the whole site down
// backs off by the deferred messages' times, without a hot loop.

// dueEvery is the shortest time between two scans for due messages.
const dueEvery = time.Second

// dueState is what mdclaim knows of the deferred messages.
type dueState struct {
	last    time.Time // the last scan for due messages
	next    time.Time // the earliest next try it left; zero if none
	claims  bool      // claims were held at the last scan, or made since
	claimed int       // made from new/ since the last scan
}

// claimDue claims the deferred messages that are due, up to left, when a
// scan is due; it returns how many it claimed.
func (m *claimer) claimDue(left int) int {
	now := time.Now()
	if !m.dueNow(now) {
		return 0
	}
	if m.held != nil {
		// Take in first the events of the claims that became deferred:
		// one claimed again under the same name must not be dropped by
		// its own earlier event.
		m.held.Update()
	}
	next, n, err := intake.ClaimDue(m.c.Maildir, now, left, func(path string) {
		m.out.add(path)
		if m.held != nil {
			m.held.Add(filepath.Base(path))
		}
	})
	if err != nil {
		m.Log.Printf("%v", err)
	}
	m.due.last, m.due.next = now, next
	m.due.claims = m.held == nil || m.held.Len() > 0 || m.due.claimed > 0
	m.due.claimed = 0
	return n
}

// dueNow reports whether a scan for due messages is due.
func (m *claimer) dueNow(now time.Time) bool {
	if m.c.Retry {
		return false
	}
	if m.due.last.IsZero() {
		return true
	}
	if now.Sub(m.due.last) < dueEvery {
		return false
	}
	return m.due.claims || m.due.claimed > 0 || (!m.due.next.IsZero() && !now.Before(m.due.next)) ||
		now.Sub(m.due.last) >= m.rescan
}

// dueWait returns how long a wait may last before a scan for due
// messages is due; false when none will be.
func (m *claimer) dueWait(now time.Time) (time.Duration, bool) {
	if m.c.Retry {
		return 0, false
	}
	var at time.Time
	if m.due.claims || m.due.claimed > 0 {
		at = m.due.last.Add(dueEvery)
	}
	if !m.due.next.IsZero() && (at.IsZero() || m.due.next.Before(at)) {
		at = m.due.next
		if early := m.due.last.Add(dueEvery); at.Before(early) {
			at = early
		}
	}
	if at.IsZero() {
		return 0, false
	}
	return max(at.Sub(now), 0), true
}
