package handoff

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/safename"

	"golang.org/x/sys/unix"
)

// The destinations of a MaildirTree: checked, opened below QUEUE without
// following a symbolic link, made where they may be, and looked up again.

// maxOpen bounds the maildirs kept open between messages.
const maxOpen = 512

// treeFds is how many descriptors a MaildirTree may hold at once: two for
// each maildir kept open, the syncer's directories, a lock for each claim
// pending, and a few more.
const treeFds = 2*(maxOpen+1) + fsx.MaxSyncDirs + maxPending + 64

// growFdsAt is how many maildirs a MaildirTree opens before it grows the
// descriptor table to treeFds (fsx.GrowFdTable), in the background. The
// second: a run that hands off to more than one destination may soon
// hold hundreds of descriptors, and the growth's grace period then has
// the most time to pass before the first table (64) is full; at the
// eighth, the hand-offs still stood waiting for it for 10 ms. A run of
// one destination (the shell loop's one message) never grows it, so its
// mdsweep never waits at its exit for a growth under way.
const growFdsAt = 2

// growFdTable is fsx.GrowFdTable; a variable for the tests.
var growFdTable = fsx.GrowFdTable

// dirs validates the destinations again (mdpipe(7), RULES: nothing
// outside QUEUE; every tool that makes a path of LIST and SUBQUEUE
// checks them) and returns each
// distinct destination maildir once, open, creating what may be created.
// A destination refused for good (no such list, a symbolic link) is left
// out and said in refused; any other failure is returned.
func (t *MaildirTree) dirs(dests []Dest) (dirs []*maildir, refused, err error) {
	if len(t.open) > maxOpen {
		t.closeAll()
	}
	// A name that is not safe is a broken record: nothing is placed.
	paths := make([]string, len(dests))
	for i, d := range dests {
		if paths[i], err = t.dirOf(d); err != nil {
			return nil, nil, err
		}
	}
	dirs = t.dirsBuf[:0]
	var why refusals
	for i, d := range dests {
		m, err := t.ensure(d, paths[i])
		if err != nil {
			if fault.IsTemporary(err) {
				return nil, nil, err
			}
			why = append(why, err)
			continue
		}
		dup := false
		for _, x := range dirs {
			dup = dup || x == m
		}
		if !dup {
			dirs = append(dirs, m)
		}
	}
	t.dirsBuf = dirs
	if len(why) > 0 {
		refused = why
	}
	return dirs, refused, nil
}

// dirOf checks a destination's names and returns its maildir's path.
func (t *MaildirTree) dirOf(d Dest) (string, error) {
	key := [2]string{d.List, d.Subqueue}
	if dir, ok := t.valid[key]; ok {
		return dir, nil
	}
	if err := safename.List(d.List); err != nil {
		return "", fault.Permanent(err)
	}
	if err := safename.Name(d.Subqueue); err != nil {
		return "", fault.Permanent(fmt.Errorf("subqueue: %v", err))
	}
	if t.valid == nil || len(t.valid) >= 1<<14 {
		t.valid = make(map[[2]string]string)
	}
	dir := filepath.Join(t.Queue, d.List, d.Subqueue)
	t.valid[key] = dir
	return dir, nil
}

// ensure opens the maildir of d at path, making SUBQUEUE and its
// directories (and LIST, with Create) where they are missing. Later calls
// cost nothing, until forget.
func (t *MaildirTree) ensure(d Dest, path string) (*maildir, error) {
	now := time.Now()
	if m, ok := t.open[path]; ok {
		if t.current(m, now) {
			m.used = now
			return m, nil
		}
		t.forget(m)
	}
	// QUEUE itself may be a symbolic link; nothing below it may.
	root, err := unix.Open(t.Queue, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		// QUEUE gone (unmounted, being restored): wait for it.
		return nil, fault.Temporary(&os.PathError{Op: "open queue", Path: t.Queue, Err: err})
	}
	defer unix.Close(root)
	listPath := filepath.Join(t.Queue, d.List)
	list, err := openBelow(root, d.List, listPath, t.Create)
	if err == unix.ENOENT {
		return nil, fault.Permanent(fmt.Errorf("%w '%s' (make its directory, or let mdsweep -C make lists)", ErrNoSuchList, listPath))
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(list)
	fd, err := openBelow(list, d.Subqueue, path, true)
	if err != nil {
		return nil, err
	}
	m := &maildir{dir: path, newDir: filepath.Join(path, "new"), fd: fd, newFd: -1, checked: now, used: now}
	for _, sub := range []string{"tmp", "cur", "new"} {
		sfd, err := openBelow(fd, sub, filepath.Join(path, sub), true)
		if err != nil {
			m.close()
			return nil, err
		}
		if sub == "new" {
			m.newFd = sfd
		} else {
			unix.Close(sfd)
		}
	}
	if err := m.identify(list); err != nil {
		m.close()
		return nil, err
	}
	if t.open == nil {
		t.open = make(map[string]*maildir)
	}
	t.open[path] = m
	if len(t.open) >= growFdsAt && !t.grew {
		t.grew = true
		// Best effort: should it fail, the table grows as it would
		// have.
		go growFdTable(treeFds)
	}
	return m, nil
}

// openBelow opens the directory name below the directory dirfd, never
// through a symbolic link, and makes it first if it is missing and mk
// is set. A missing directory that may not be made is unix.ENOENT.
func openBelow(dirfd int, name, path string, mk bool) (int, error) {
	for try := 0; ; try++ {
		fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			return fd, nil
		case err == unix.ELOOP || err == unix.ENOTDIR:
			// With O_DIRECTORY, a symbolic link is ENOTDIR: tell them apart.
			var st unix.Stat_t
			if unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				return -1, fault.Permanent(fmt.Errorf("'%s' is a symbolic link: refused, nothing is written outside the queue", path))
			}
			return -1, fault.Permanent(fmt.Errorf("'%s' is not a directory", path))
		case err == unix.ENOENT && mk && try == 0:
			err := unix.Mkdirat(dirfd, name, 0o777)
			if err != nil && err != unix.EEXIST {
				return -1, fault.Classify(&os.PathError{Op: "mkdir", Path: path, Err: err})
			}
			// A directory's name is durable only once its parent is
			// fsynced: without this, a system crash can take away a
			// new subqueue with the mail already in it, whose claims
			// are gone (mdpipe(7), RULES: exactly once). Once per
			// directory made, so even with -s.
			if err == nil {
				if err := unix.Fsync(dirfd); err != nil {
					return -1, fault.Temporary(&os.PathError{Op: "fsync", Path: filepath.Dir(path), Err: err})
				}
			}
			continue
		case err == unix.ENOENT && !mk:
			return -1, unix.ENOENT
		}
		return -1, fault.Classify(&os.PathError{Op: "open", Path: path, Err: err})
	}
}

// forget drops an open maildir that went away under us (removed by hand),
// and the fsync descriptors kept below it, so the next use opens it anew.
func (t *MaildirTree) forget(m *maildir) {
	if t.open[m.dir] == m {
		delete(t.open, m.dir)
	}
	m.close()
	t.Sync.Forget(m.dir)
}

// reopenEvery bounds how long an open destination is trusted before it
// is looked up by name again.
const reopenEvery = time.Second

// current reports whether m is still the directory its name leads to:
// once it has been trusted for reopenEvery, it is looked up by name again,
// so that a destination moved away, or swapped for another directory,
// shows (one removed shows at once: ENOENT, see reopen). That runs before
// a message, not only at a commit: the first message after a quiet hour
// must not go into a directory an admin moved away meanwhile. Three
// lstat(2) calls of QUEUE/LIST, the maildir and its new/, compared with
// what was opened; a symbolic link put in the place of one is another
// file, and the open that follows refuses it (mdpipe(7), RULES: nothing
// outside QUEUE). Opening every destination anew each time cost a
// streaming mdsweep an open and a close for every two messages.
func (t *MaildirTree) current(m *maildir, now time.Time) bool {
	if now.Sub(m.checked) < reopenEvery {
		return true
	}
	for i, p := range []string{filepath.Dir(m.dir), m.dir, m.newDir} {
		var st unix.Stat_t
		if fsx.Lstat(p, &st) != nil || (fileID{st.Dev, st.Ino}) != m.ids[i] {
			return false
		}
	}
	m.checked = now
	return true
}

// identify keeps the identities of the list directory (open as list),
// the maildir and its new/.
func (m *maildir) identify(list int) error {
	for i, fd := range []int{list, m.fd, m.newFd} {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return fault.Temporary(&os.PathError{Op: "fstat", Path: m.dir, Err: err})
		}
		m.ids[i] = fileID{st.Dev, st.Ino}
	}
	return nil
}

// refresh closes, at a commit, the destinations no message used for
// reopenEvery, and the descriptors DirSync keeps for them: an idle
// mdsweep holds few directories below QUEUE open (an unmount). One in
// use stays open; current checks it by name before its next message.
func (t *MaildirTree) refresh() {
	now := time.Now()
	for _, m := range t.open {
		if now.Sub(m.used) >= reopenEvery {
			t.forget(m)
		}
	}
	t.claims.Idle(now)
}

// closeAll closes every open maildir. Between messages only: a message in
// hand uses them.
func (t *MaildirTree) closeAll() {
	for _, m := range t.open {
		m.close()
	}
	clear(t.open)
	t.claims.Close()
}

// reopen checks, after a rename or link into m failed with ENOENT, whether
// the claim is still there. If it is, m went away: reopen it (made again,
// or refused), and return the new one; nil, nil means the claim is gone.
func (t *MaildirTree) reopen(c intake.Claim, m *maildir, d Dest) (*maildir, error) {
	if !exists(c.Path) {
		return nil, nil
	}
	t.forget(m)
	return t.ensure(d, m.dir)
}

// destOf returns the Dest whose maildir is m, for reopen.
func destOf(t *MaildirTree, m *maildir) Dest {
	rel, _ := filepath.Rel(t.Queue, m.dir)
	list, sub, _ := strings.Cut(rel, "/")
	return Dest{List: list, Subqueue: sub}
}
