package handoff

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"

	"golang.org/x/sys/unix"
)

// A MaildirTree hand-off that is more than one rename: links into several
// queues, or a durable copy onto another file system, under the claim's
// lock.

// copyAll puts the message into several destinations, or into one on
// another file system, while holding the claim's lock (mdpipe(7), RULES:
// the owner rule). A destination on the claim's file system gets a hard
// link; another gets a durable copy. The claim is dropped at Commit, after
// the destinations' directories are fsynced.
//
// A partial hand-off is never delivered twice: once one destination
// holds the message, a destination that refuses it for good is logged,
// and the claim is dropped all the same. Parking it would let mdclaim -x
// deliver it again to the ones that took it. Only a message that no
// destination took is parked.
func (t *MaildirTree) copyAll(c intake.Claim, dirs []*maildir, refused error) error {
	lock, st, err := c.Lock()
	if err == fault.ErrGone {
		t.inHand = ""
		return nil
	}
	if err != nil {
		return fault.Classify(err)
	}
	crashPoint("locked")
	if t.placed == nil {
		t.placed = make(map[string]bool)
	}
	var why refusals
	if refused != nil {
		why = append(why, refused)
	}
	for _, m := range dirs {
		if t.placed[m.dir] {
			continue
		}
		err := t.place(c, lock, st.Mode, m)
		if err != nil && fault.IsTemporary(err) {
			lock.Close()
			return err
		}
		if err != nil {
			why = append(why, err)
			continue
		}
		t.placed[m.dir] = true
	}
	t.inHand = ""
	if len(t.placed) == 0 {
		lock.Close()
		return fault.Permanent(why)
	}
	if len(why) > 0 && t.Log != nil {
		t.Log.Path("handed off to some destinations only, not parked", c.Path, why)
	}
	t.pending = append(t.pending, pending{claim: c, lock: lock})
	if len(t.pending) >= maxPending {
		return t.Commit()
	}
	return nil
}

// place puts one copy of the locked claim into m's new/.
func (t *MaildirTree) place(c intake.Claim, src *os.File, mode uint32, m *maildir) error {
	err := c.LinkTo(m.newFd)
	if err == unix.ENOENT {
		// We hold the claim's lock, so the claim is there: m went away.
		m2, rerr := t.reopen(c, m, destOf(t, m))
		if rerr != nil {
			return rerr
		}
		if m2 == nil {
			return fault.Temporary(fmt.Errorf("claim gone while locked"))
		}
		m = m2
		err = c.LinkTo(m.newFd)
	}
	copied := false
	if err == unix.EXDEV {
		err = t.copyInto(c, src, mode, m)
		copied = err == nil
	}
	to := m.newDir + "/" + c.Base
	switch {
	case err == nil:
		if copied {
			// The rename out of tmp/ changed tmp/ too: a system crash
			// may keep it only once tmp/ is fsynced as well as new/
			// (mdpipe(7), RULES: exactly once).
			t.Sync.Mark(filepath.Join(m.dir, "tmp"))
		}
	case err == unix.EEXIST:
		same, err := sameContent(c.Path, to)
		if err != nil {
			return fault.Classify(err)
		}
		if !same {
			return fault.Permanent(fmt.Errorf("%s exists already and holds another message", to))
		}
	default:
		if errno, ok := err.(unix.Errno); ok {
			err = &os.PathError{Op: "link", Path: to, Err: errno}
		}
		return fault.Classify(err)
	}
	t.Sync.Mark(m.newDir)
	crashPoint("placed")
	return nil
}

// copyInto copies the message to tmp/B, fsyncs it and renames it into
// new/ without replacing. The copy keeps the message's permission bits
// (a 0600 message stays 0600, whatever the umask). A tmp/B left by a crash
// is unlinked, never truncated: if the link+unlink fallback was cut short
// between its two calls, it is the inode of new/B, which the list manager
// may have taken and be reading. Only the holder of the claim's lock
// writes tmp/B.
func (t *MaildirTree) copyInto(c intake.Claim, src *os.File, mode uint32, m *maildir) error {
	tmpPath := filepath.Join(m.dir, "tmp")
	tmpFd, err := openBelow(m.fd, "tmp", tmpPath, true)
	if err != nil {
		return err
	}
	defer unix.Close(tmpFd)
	tmp := filepath.Join(tmpPath, c.Base)
	if err := unix.Unlinkat(tmpFd, c.Base, 0); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "unlink", Path: tmp, Err: err}
	}
	fd, err := unix.Openat(tmpFd, c.Base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "create", Path: tmp, Err: err}
	}
	dst := os.NewFile(uintptr(fd), tmp)
	crashPoint("tmp-created")
	err = unix.Fchmod(fd, mode&0o7777)
	if err == nil {
		_, err = src.Seek(0, io.SeekStart)
	}
	if err == nil {
		_, err = io.Copy(dst, src)
	}
	crashPoint("tmp-written")
	if err == nil {
		err = dst.Sync()
		crashPoint("tmp-synced")
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlinkat(tmpFd, c.Base, 0)
		return err
	}
	if err := fsx.RenameAt(tmpFd, c.Base, m.newFd, c.Base); err != nil {
		unix.Unlinkat(tmpFd, c.Base, 0)
		if fsx.IsExist(err) {
			return unix.EEXIST
		}
		return err
	}
	crashPoint("renamed")
	return nil
}
