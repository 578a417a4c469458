package tool

import (
	"context"
	"path/filepath"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/intake"
	"mdpipe/internal/stage"
	"mdpipe/internal/watch"
)

// writeEvery is how many claims mdclaim makes before it writes them: the
// stages after it start on the first while it claims the rest of a big
// backlog, and a stop finds few claims made but unwritten.
const writeEvery = 64

// claimer is mdclaim's loop: claim a batch, write it, look after the
// recovery and tmp/, wait; until done, the next stage is gone, or the
// stop.
type claimer struct {
	*stage.Stage
	c            *intake.Claimer
	out          *claimOut
	max          int
	wait, follow bool
	age, rescan  time.Duration
	bound        int
	refilling    bool // a refill under the bound has begun (room)

	w        *watch.Watcher // wakes the wait for mail (-w, -f)
	held     *watch.Held    // the claims held, against the bound
	outFd    int            // the pipe to the next stage, or -1
	claimed  int
	returned int      // claims given back to new/ (giveBack)
	due      dueState // the deferred messages
	// When the recovery (-r) and the tmp/ clean-up are due next.
	nextRecover, nextClean time.Time
	// The claims the last recovery named and left: each is said once.
	unrecovered map[string]bool
}

// run returns the exit status. A stop (ctx) ends it after the batch in
// hand, whose claims not yet written go back to new/.
func (m *claimer) run(ctx context.Context) cli.Status {
	if !m.open() {
		return m.Status()
	}
	defer m.close()
	m.upkeep()
	for {
		full := m.atBound()
		var err error
		if !full {
			var more bool
			more, err = m.claimSome()
			if ctx.Err() != nil || !m.write(ctx) {
				m.giveBack()
				return m.Status()
			}
			if err != nil {
				m.Log.Printf("%v", err)
				if !m.follow && !m.wait {
					m.Note(cli.Temp)
					return m.Status()
				}
			}
			if m.max > 0 && m.claimed >= m.max {
				return m.done()
			}
			if more && err == nil {
				continue
			}
			if !m.follow && (!m.wait || m.claimed > 0) {
				return m.done()
			}
		}
		if m.follow && m.upkeep() {
			continue // claim what the recovery returned
		}
		gone := m.sleep(ctx, full, err)
		if ctx.Err() != nil {
			return m.Status()
		}
		if gone {
			// What the pipe holds, nobody will read.
			m.giveBack()
			if !m.StopPending(cli.ErrDownstreamGone) {
				m.Log.Printf("%v", cli.ErrDownstreamGone)
				m.Note(cli.Temp)
			}
			return m.Status()
		}
	}
}

// claimSome claims the next batch: at most writeEvery, what is left of
// -n, and the room under the bound (room).
func (m *claimer) claimSome() (more bool, err error) {
	left := writeEvery
	if m.max > 0 {
		left = min(left, m.max-m.claimed)
	}
	if m.held != nil {
		left = min(left, m.room(m.held.Len()))
	}
	// The due deferred messages first: they are older than what waits
	// in new/.
	n := m.claimDue(left)
	m.claimed += n
	if left -= n; left <= 0 {
		return true, nil
	}
	res, err := m.c.Scan(left, func(path string) {
		m.out.add(path)
		if m.held != nil {
			m.held.Add(filepath.Base(path))
		}
	})
	m.claimed += res.Claimed
	m.due.claimed += res.Claimed
	if res.Refused > 0 {
		m.Note(cli.Perm)
	}
	return res.More, err
}

// write writes the batch. It reports false when the write failed: the
// next stage gone, or the stop interrupted a write into a full pipe.
func (m *claimer) write(ctx context.Context) bool {
	err := m.out.flush()
	if err != nil && ctx.Err() == nil {
		m.OutputFailed(err)
	}
	return err == nil
}

// giveBack returns to new/ the claims nobody downstream has read or will
// read: they cannot have been passed on (a stop, or the next stage gone).
func (m *claimer) giveBack() {
	m.giveBackAll(m.out.unwritten())
	m.out.claims, m.out.ends, m.out.buf = nil, nil, nil
	// Said, unlike the unwritten ones of a stop: the next stage died
	// or stopped without reading them.
	if n := m.giveBackAll(m.out.unread()); n > 0 {
		m.Log.Printf("returned %d claims to new/ that the next tool never read", n)
	}
}

// giveBackAll gives each claim back (Stage.GiveBack) and returns how
// many went back.
func (m *claimer) giveBackAll(claims []string) (returned int) {
	for _, p := range claims {
		if m.GiveBack(p) {
			returned++
			m.returned++
		}
	}
	return returned
}

// done is the end of a run that claimed what it could: 1 if nothing.
func (m *claimer) done() cli.Status {
	if m.claimed == 0 {
		m.Note(cli.None)
	}
	return m.Status()
}
