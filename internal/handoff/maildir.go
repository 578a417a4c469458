package handoff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/safename"

	"golang.org/x/sys/unix"
)

// MaildirTree hands messages off into QUEUE/LIST/SUBQUEUE/, a maildir
// each. QUEUE must exist (it is never created: a typo must not make a
// queue nobody reads), and so must QUEUE/LIST unless Create is set: a list
// exists when its directory does. SUBQUEUE and its tmp/, new/ and cur/ are
// made on first use.
//
// Nothing below QUEUE is a symbolic link that is followed (QUEUE itself
// may be one): each directory is opened by one name below the one before,
// with O_NOFOLLOW, and messages are renamed and linked relative to the
// descriptors so opened, so a link planted later is not followed either.
//
// The hand-off is exactly-once (DESIGN rule 3): one no-replace rename on
// the same file system; across file systems a copy to tmp/, fsync,
// no-replace rename into new/, fsync of new/, and only then the unlink of
// the claim. The message keeps its unique name B, so a hand-off repeated
// after a crash finds B there and just drops the claim.
type MaildirTree struct {
	Queue  string
	Create bool     // make QUEUE/LIST on first use (mdsweep -C)
	Log    *cli.Log // says which destinations refused a message that others took
	Sync   fsx.DirSync

	// valid maps a LIST and SUBQUEUE already checked to their maildir's
	// path, and open maps that path to its open directories: after the
	// first message, a destination costs no name check, no path building
	// and no mkdir.
	valid   map[[2]string]string
	open    map[string]*maildir
	opened  time.Time // when open was last emptied, to be looked up anew
	dirsBuf []*maildir
	pending []pending // claims to drop once their copies are durable

	// inHand is the message whose hand-off is under way, and placed the
	// maildirs that already hold it: a retry after a temporary failure
	// puts it only where it is not yet, so a list manager that took it
	// from new/ meanwhile does not get it twice.
	inHand string
	placed map[string]bool
}

// maildir is one destination maildir, open.
type maildir struct {
	dir    string // QUEUE/LIST/SUBQUEUE
	newDir string // dir/new
	fd     int    // dir
	newFd  int    // dir/new
}

func (m *maildir) close() {
	unix.Close(m.newFd)
	unix.Close(m.fd)
}

// maxOpen bounds the maildirs kept open between messages.
const maxOpen = 512

// ErrNoSuchList is the cause of a message parked for a list whose
// directory does not exist.
var ErrNoSuchList = errors.New("no such list")

// refusals are the permanent failures of some destinations of a message.
type refusals []error

func (r refusals) Error() string {
	s := make([]string, len(r))
	for i, err := range r {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (r refusals) Unwrap() []error { return r }

// pending is a claim whose message now sits in every destination, but
// whose destinations' directories are not fsynced yet. Its lock is held
// until the claim is gone, so recovery leaves it alone meanwhile.
type pending struct {
	claim intake.Claim
	lock  *os.File
}

// maxPending bounds the locks (descriptors) a batch holds.
const maxPending = 256

// Check reports whether QUEUE is there, a directory: mdsweep never
// creates it.
func (t *MaildirTree) Check() error {
	fd, err := unix.Open(t.Queue, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// HandOff implements Target.
func (t *MaildirTree) HandOff(_ context.Context, c intake.Claim, dests []Dest) error {
	var st unix.Stat_t
	if err := unix.Lstat(c.Path, &st); err != nil {
		if err == unix.ENOENT {
			return ErrNoClaim // someone else acted first; no queue directory for it
		}
		return classify(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return Permanent(fmt.Errorf("%w (%s)", fsx.ErrNotRegular, fsx.KindOf(st.Mode)))
	}
	if t.inHand != c.Path {
		t.inHand, t.placed = c.Path, nil
	}
	dirs, refused, err := t.dirs(dests)
	if err != nil {
		return err
	}
	if len(dirs) == 0 && len(t.placed) == 0 {
		// No destination takes it, and none took it before: park it.
		t.inHand = ""
		if refused == nil {
			refused = errors.New("no destination")
		}
		return Permanent(refused)
	}
	if len(dirs) == 1 && refused == nil && len(t.placed) == 0 {
		err := t.rename(c, dirs[0])
		if !fsx.IsCrossDevice(err) {
			if err == nil || !IsTemporary(err) {
				t.inHand = ""
			}
			return err
		}
	}
	return t.copyAll(c, dirs, refused)
}

// dirs validates the destinations again (DESIGN rule 5: every tool that
// makes a path of LIST and SUBQUEUE checks them) and returns each
// distinct destination maildir once, open, creating what may be created.
// A destination refused for good (no such list, a symbolic link) is left
// out and said in refused; any other failure is returned.
func (t *MaildirTree) dirs(dests []Dest) (dirs []*maildir, refused, err error) {
	t.refresh()
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
			if IsTemporary(err) {
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

// ensure opens the maildir of d at path, making SUBQUEUE and its
// directories (and LIST, with Create) where they are missing. Later calls
// cost nothing, until forget.
func (t *MaildirTree) ensure(d Dest, path string) (*maildir, error) {
	if m, ok := t.open[path]; ok {
		return m, nil
	}
	// QUEUE itself may be a symbolic link; nothing below it may.
	root, err := unix.Open(t.Queue, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		// QUEUE gone (unmounted, being restored): wait for it.
		return nil, Temporary(&os.PathError{Op: "open queue", Path: t.Queue, Err: err})
	}
	defer unix.Close(root)
	listPath := filepath.Join(t.Queue, d.List)
	list, err := openBelow(root, d.List, listPath, t.Create)
	if err == unix.ENOENT {
		return nil, Permanent(fmt.Errorf("%w '%s' (make its directory, or let mdsweep -C make lists)", ErrNoSuchList, listPath))
	}
	if err != nil {
		return nil, err
	}
	defer unix.Close(list)
	fd, err := openBelow(list, d.Subqueue, path, true)
	if err != nil {
		return nil, err
	}
	m := &maildir{dir: path, newDir: filepath.Join(path, "new"), fd: fd, newFd: -1}
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
	if t.open == nil {
		t.open = make(map[string]*maildir)
	}
	t.open[path] = m
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
				return -1, Permanent(fmt.Errorf("'%s' is a symbolic link: refused, nothing is written outside the queue", path))
			}
			return -1, Permanent(fmt.Errorf("'%s' is not a directory", path))
		case err == unix.ENOENT && mk && try == 0:
			if err := unix.Mkdirat(dirfd, name, 0o777); err != nil && err != unix.EEXIST {
				return -1, classify(&os.PathError{Op: "mkdir", Path: path, Err: err})
			}
			continue
		case err == unix.ENOENT && !mk:
			return -1, unix.ENOENT
		}
		return -1, classify(&os.PathError{Op: "open", Path: path, Err: err})
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

// refresh closes the open destinations, and the descriptors DirSync keeps
// below QUEUE, once they have been trusted for reopenEvery, so that the
// next hand-off looks each one up by name again. A destination removed
// under us shows at once (ENOENT: reopen); one moved away, or swapped for
// another directory, shows only so. It runs before each message, not
// only at a commit: the first message after a quiet hour must not go
// into a directory an admin moved away meanwhile. Once a second, not at every
// message: ten system calls a destination each time would cost a
// streaming mdsweep a third of its speed.
func (t *MaildirTree) refresh() {
	if now := time.Now(); now.Sub(t.opened) >= reopenEvery {
		t.closeAll()
		t.Sync.Forget(t.Queue)
		t.opened = now
	}
}

// closeAll closes every open maildir. Between messages only: a message in
// hand uses them.
func (t *MaildirTree) closeAll() {
	for _, m := range t.open {
		m.close()
	}
	clear(t.open)
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

// rename is the same-file-system hand-off: one atomic rename.
func (t *MaildirTree) rename(c intake.Claim, m *maildir) error {
	err := fsx.RenameAt(unix.AT_FDCWD, c.Path, m.newFd, c.Base)
	if fsx.IsNotExist(err) {
		// The claim is there, so the destination went away under us
		// (removed by hand): open it again, once.
		m2, rerr := t.reopen(c, m, destOf(t, m))
		if rerr != nil || m2 == nil {
			return rerr
		}
		m = m2
		err = fsx.RenameAt(unix.AT_FDCWD, c.Path, m.newFd, c.Base)
	}
	to := m.newDir + "/" + c.Base
	switch {
	case err == nil:
		t.Sync.Mark(m.newDir)
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
//
// A partial hand-off is never delivered twice: once one destination
// holds the message, a destination that refuses it for good is logged,
// and the claim is dropped all the same. Parking it would let mdclaim -x
// deliver it again to the ones that took it. Only a message that no
// destination took is parked.
func (t *MaildirTree) copyAll(c intake.Claim, dirs []*maildir, refused error) error {
	lock, st, err := fsx.LockClaim(c.Path)
	if err == fsx.ErrGone {
		t.inHand = ""
		return nil
	}
	if err != nil {
		return classify(err)
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
		if err != nil && IsTemporary(err) {
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
		return Permanent(why)
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
	err := unix.Linkat(unix.AT_FDCWD, c.Path, m.newFd, c.Base, 0)
	if err == unix.ENOENT {
		// We hold the claim's lock, so the claim is there: m went away.
		m2, rerr := t.reopen(c, m, destOf(t, m))
		if rerr != nil {
			return rerr
		}
		if m2 == nil {
			return Temporary(fmt.Errorf("claim gone while locked"))
		}
		m = m2
		err = unix.Linkat(unix.AT_FDCWD, c.Path, m.newFd, c.Base, 0)
	}
	if err == unix.EXDEV {
		err = t.copyInto(c, src, mode, m)
	}
	to := m.newDir + "/" + c.Base
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
		if errno, ok := err.(unix.Errno); ok {
			err = &os.PathError{Op: "link", Path: to, Err: errno}
		}
		return classify(err)
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

// Commit implements Target. Renames alone wait on nothing: their
// directories are fsynced in the background while hand-offs go on. Claims
// whose copies wait for durability are dropped only after a synchronous
// fsync of every changed directory; their drops are made durable in the
// background in turn.
func (t *MaildirTree) Commit() error {
	// Also here, when the input pauses: an idle mdsweep then mostly
	// holds no directory below QUEUE open (an unmount).
	t.refresh()
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
// returns, and no directory below QUEUE is left open.
func (t *MaildirTree) Close() error {
	err := t.Commit()
	t.closeAll()
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
