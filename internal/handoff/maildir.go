package handoff

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/safename"

	"golang.org/x/sys/unix"
)

// MaildirTree hands messages off into QUEUE/LIST/SUBQUEUE/, a maildir
// each, created on first use. The hand-off is exactly-once (DESIGN rule 3):
// one no-replace rename on the same file system; across file systems a
// copy to tmp/, fsync, no-replace rename into new/, fsync of new/, and only
// then the unlink of the claim. The message keeps its unique name B, so a
// hand-off repeated after a crash finds B there and just drops the claim.
type MaildirTree struct {
	Queue string
	Sync  fsx.DirSync

	// valid maps a LIST and SUBQUEUE already checked to their maildir,
	// and made a maildir known to exist to its new/: after the first
	// message, a destination costs no name check, no path building and no
	// mkdir.
	valid   map[[2]string]string
	made    map[string]string
	dirsBuf []string
	pending []pending // claims to drop once their copies are durable
}

// pending is a claim whose message now sits in every destination, but
// whose destinations' directories are not fsynced yet. Its lock is held
// until the claim is gone, so recovery leaves it alone meanwhile.
type pending struct {
	claim intake.Claim
	lock  *os.File
}

// maxPending bounds the locks (descriptors) a batch holds.
const maxPending = 256

// HandOff implements Target.
func (t *MaildirTree) HandOff(c intake.Claim, dests []Dest) error {
	dirs, err := t.dirs(dests)
	if err != nil {
		return err
	}
	var st unix.Stat_t
	if err := unix.Lstat(c.Path, &st); err != nil {
		if err == unix.ENOENT {
			return nil // someone else acted first
		}
		return classify(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return Permanent(fmt.Errorf("%w (%s)", fsx.ErrNotRegular, fsx.KindOf(st.Mode)))
	}
	if len(dirs) == 1 {
		err := t.rename(c, dirs[0])
		if !fsx.IsCrossDevice(err) {
			return err
		}
	}
	return t.copyAll(c, dirs)
}

// dirs validates the destinations again (DESIGN rule 5: every tool that
// makes a path of LIST and SUBQUEUE checks them) and returns each
// distinct destination maildir once, creating it if needed.
func (t *MaildirTree) dirs(dests []Dest) ([]string, error) {
	dirs := t.dirsBuf[:0]
	for _, d := range dests {
		dir, err := t.dirOf(d)
		if err != nil {
			return nil, err
		}
		dup := false
		for _, x := range dirs {
			dup = dup || x == dir
		}
		if dup {
			continue
		}
		if err := t.ensure(dir); err != nil {
			return nil, err
		}
		dirs = append(dirs, dir)
	}
	t.dirsBuf = dirs
	return dirs, nil
}

// dirOf checks a destination's names and returns its maildir.
func (t *MaildirTree) dirOf(d Dest) (string, error) {
	key := [2]string{d.List, d.Subqueue}
	if dir, ok := t.valid[key]; ok {
		return dir, nil
	}
	if err := safename.List(d.List); err != nil {
		return "", Permanent(err)
	}
	if err := safename.Name(d.Subqueue); err != nil {
		return "", Permanent(fmt.Errorf("subqueue: %v", err))
	}
	if t.valid == nil || len(t.valid) >= 1<<14 {
		t.valid = make(map[[2]string]string)
	}
	dir := filepath.Join(t.Queue, d.List, d.Subqueue)
	t.valid[key] = dir
	return dir, nil
}

// ensure creates the maildir dir once; later calls cost nothing.
func (t *MaildirTree) ensure(dir string) error {
	if _, ok := t.made[dir]; ok {
		return nil
	}
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o777); err != nil {
			return classify(err)
		}
	}
	if t.made == nil {
		t.made = make(map[string]string)
	}
	t.made[dir] = filepath.Join(dir, "new")
	return nil
}

// rename is the same-file-system hand-off: one atomic rename.
func (t *MaildirTree) rename(c intake.Claim, dir string) error {
	newDir := t.made[dir]
	to := newDir + "/" + c.Base
	err := fsx.Rename(c.Path, to)
	if fsx.IsNotExist(err) && exists(c.Path) {
		// The claim is there, so the destination went away under us
		// (removed by hand): make it again, once.
		delete(t.made, dir)
		if err := t.ensure(dir); err != nil {
			return err
		}
		err = fsx.Rename(c.Path, to)
	}
	switch {
	case err == nil:
		t.Sync.Mark(newDir)
		t.Sync.Mark(c.Cur)
		return nil
	case fsx.IsNotExist(err):
		return nil // someone else acted first
	case fsx.IsExist(err):
		return t.doneBefore(c, to)
	case fsx.IsCrossDevice(err):
		return err
	}
	return classify(err)
}

// doneBefore handles a destination that already holds B: the same bytes
// mean an earlier hand-off finished, so only the claim is left to drop.
func (t *MaildirTree) doneBefore(c intake.Claim, there string) error {
	same, err := sameContent(c.Path, there)
	if err != nil {
		if fsx.IsNotExist(err) {
			return nil
		}
		return classify(err)
	}
	if !same {
		return Permanent(fmt.Errorf("%s exists already and holds another message", there))
	}
	if err := unix.Unlink(c.Path); err != nil && err != unix.ENOENT {
		return classify(err)
	}
	t.Sync.Mark(c.Cur)
	return nil
}

// copyAll puts the message into several destinations, or into one on
// another file system, while holding the claim's lock (DESIGN rule 1). A
// destination on the claim's file system gets a hard link; another gets a
// durable copy. The claim is dropped at Commit, after the destinations'
// directories are fsynced.
func (t *MaildirTree) copyAll(c intake.Claim, dirs []string) error {
	lock, _, err := fsx.LockClaim(c.Path)
	if err == fsx.ErrGone {
		return nil
	}
	if err != nil {
		return classify(err)
	}
	crashPoint("locked")
	for _, dir := range dirs {
		if err := t.place(c, lock, dir); err != nil {
			lock.Close()
			return err
		}
	}
	t.pending = append(t.pending, pending{claim: c, lock: lock})
	if len(t.pending) >= maxPending {
		return t.Commit()
	}
	return nil
}

// place puts one copy of the locked claim into dir's new/.
func (t *MaildirTree) place(c intake.Claim, src *os.File, dir string) error {
	to := filepath.Join(dir, "new", c.Base)
	err := unix.Link(c.Path, to)
	if err == unix.EXDEV {
		err = t.copyInto(c, src, dir)
	}
	switch {
	case err == nil:
	case err == unix.EEXIST:
		same, err := sameContent(c.Path, to)
		if err != nil {
			return classify(err)
		}
		if !same {
			return Permanent(fmt.Errorf("%s exists already and holds another message", to))
		}
	default:
		return classify(err)
	}
	t.Sync.Mark(filepath.Join(dir, "new"))
	crashPoint("placed")
	return nil
}

// copyInto copies the message to dir/tmp/B, fsyncs it and renames it into
// new/ without replacing. A tmp/B left by a crash is unlinked, never
// truncated: if the link+unlink fallback was cut short between its two
// calls, it is the inode of new/B, which the list manager may have taken
// and be reading. Only the holder of the claim's lock writes tmp/B.
func (t *MaildirTree) copyInto(c intake.Claim, src *os.File, dir string) error {
	tmp := filepath.Join(dir, "tmp", c.Base)
	if err := unix.Unlink(tmp); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "unlink", Path: tmp, Err: err}
	}
	dst, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o666)
	if err != nil {
		return err
	}
	crashPoint("tmp-created")
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		dst.Close()
		return err
	}
	_, err = io.Copy(dst, src)
	crashPoint("tmp-written")
	if err == nil {
		err = dst.Sync()
		crashPoint("tmp-synced")
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := fsx.Rename(tmp, filepath.Join(dir, "new", c.Base)); err != nil {
		os.Remove(tmp)
		if fsx.IsExist(err) {
			return unix.EEXIST
		}
		return err
	}
	crashPoint("renamed")
	return nil
}

// Commit implements Target. Renames alone wait on nothing: their
// directories are fsynced in the background while hand-offs go on. Claims
// whose copies wait for durability are dropped only after a synchronous
// fsync of every changed directory; their drops are made durable in the
// background in turn.
func (t *MaildirTree) Commit() error {
	if len(t.pending) == 0 {
		t.Sync.Kick()
		if err := t.Sync.Err(); err != nil {
			return Temporary(err)
		}
		return nil
	}
	if err := t.Sync.Commit(); err != nil {
		return Temporary(err)
	}
	crashPoint("dirs-synced")
	var first error
	for _, p := range t.pending {
		if err := unix.Unlink(p.claim.Path); err != nil && err != unix.ENOENT && first == nil {
			first = Temporary(&os.PathError{Op: "unlink", Path: p.claim.Path, Err: err})
		}
		crashPoint("unlinked")
		t.Sync.Mark(p.claim.Cur)
		p.lock.Close()
	}
	t.pending = t.pending[:0]
	t.Sync.Kick()
	return first
}

// Close implements Target: everything handed off is durable when it
// returns.
func (t *MaildirTree) Close() error {
	err := t.Commit()
	if serr := t.Sync.Commit(); serr != nil && err == nil {
		err = Temporary(serr)
	}
	return err
}

// crashAt, set only by the crash test, is called between the system
// calls of a hand-off that is more than one rename (copies across file
// systems, links into several queues), with the name of the step just
// done; the test kills the process there and checks that a rerun
// neither loses nor duplicates the message. Nil in production.
var crashAt func(step string)

func crashPoint(step string) {
	if crashAt != nil {
		crashAt(step)
	}
}

// sameContent reports whether two files hold the same bytes; the same
// inode (a hard link from an earlier hand-off) settles it at once.
func sameContent(a, b string) (bool, error) {
	fa, sa, err := fsx.OpenRegular(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, sb, err := fsx.OpenRegular(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	if sa.Dev == sb.Dev && sa.Ino == sb.Ino {
		return true, nil
	}
	if sa.Size != sb.Size {
		return false, nil
	}
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, ea := io.ReadFull(fa, ba)
		nb, eb := io.ReadFull(fb, bb)
		if na != nb || !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		if ea == io.EOF || ea == io.ErrUnexpectedEOF {
			return eb == ea, nil
		}
		if ea != nil {
			return false, ea
		}
		if eb != nil {
			return false, eb
		}
	}
}

func exists(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil
}
