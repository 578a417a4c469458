package handoff

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/logline"

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
// The hand-off is exactly-once (mdpipe(7), RULES: exactly once): one
// no-replace rename on the same file system; across file systems a copy
// to tmp/, fsync,
// no-replace rename into new/, fsync of new/, and only then the unlink of
// the claim. The message keeps its unique name B, so a hand-off repeated
// after a crash finds B there and just drops the claim.
type MaildirTree struct {
	Queue  string
	Create bool         // make QUEUE/LIST on first use (mdsweep -C)
	Log    *logline.Log // says which destinations refused a message that others took
	Sync   fsx.DirSync

	// valid maps a LIST and SUBQUEUE already checked to their maildir's
	// path, and open maps that path to its open directories: after the
	// first message, a destination costs no name check, no path building
	// and no mkdir.
	valid   map[[2]string]string
	open    map[string]*maildir
	dirsBuf []*maildir
	claims  fsx.KeptDir // the intake's cur/ the claims come from (claimAt)
	pending []pending   // claims to drop once their copies are durable

	// inHand is the message whose hand-off is under way, and placed the
	// maildirs that already hold it: a retry after a temporary failure
	// puts it only where it is not yet, so a list manager that took it
	// from new/ meanwhile does not get it twice.
	inHand string
	placed map[string]bool

	// grew is set once the descriptor table was asked to grow
	// (growFdsAt).
	grew bool
}

// maildir is one destination maildir, open.
type maildir struct {
	dir    string // QUEUE/LIST/SUBQUEUE
	newDir string // dir/new
	fd     int    // dir
	newFd  int    // dir/new
	// ids are the identities of QUEUE/LIST, dir and new/ as opened, and
	// checked when they were last found under their names (current).
	ids     [3]fileID
	checked time.Time
	// used is when a message last went there: refresh closes only what
	// no message used for a while, not what is in use but due a check.
	used time.Time
}

// fileID is what tells one directory from another.
type fileID struct{ dev, ino uint64 }

func (m *maildir) close() {
	unix.Close(m.newFd)
	unix.Close(m.fd)
}

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
	cur, name := t.claimAt(c)
	var st unix.Stat_t
	err := fsx.Fstatat(cur, name, &st)
	if fault.IsGone(err) && cur != unix.AT_FDCWD {
		// Not in the cur/ kept open; its path may lead to another, made
		// anew since (fsx.KeptDir): look the path up again.
		t.claims.Expire()
		cur, name = t.claimAt(c)
		err = fsx.Fstatat(cur, name, &st)
	}
	if err != nil {
		if fault.IsGone(err) {
			return fault.ErrGone // someone else acted first; no queue directory for it
		}
		return fault.Classify(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fault.Permanent(fmt.Errorf("%w (%s)", fsx.ErrNotRegular, fsx.KindOf(st.Mode)))
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
		return fault.Permanent(refused)
	}
	if len(dirs) == 1 && refused == nil && len(t.placed) == 0 {
		err := t.rename(c, cur, name, dirs[0])
		if !fsx.IsCrossDevice(err) {
			if err == nil || !fault.IsTemporary(err) {
				t.inHand = ""
			}
			return err
		}
	}
	return t.copyAll(c, dirs, refused)
}

// rename is the same-file-system hand-off: one atomic rename of the
// claim, name relative to cur (claimAt).
func (t *MaildirTree) rename(c intake.Claim, cur int, name string, m *maildir) error {
	err := c.MoveTo(cur, name, m.newFd)
	if fault.IsGone(err) {
		// The claim is there, so the destination went away under us
		// (removed by hand): open it again, once.
		m2, rerr := t.reopen(c, m, destOf(t, m))
		if rerr != nil || m2 == nil {
			return rerr
		}
		m = m2
		err = c.MoveTo(cur, name, m.newFd)
	}
	switch {
	case err == nil:
		t.Sync.Mark(m.newDir)
		t.Sync.Mark(c.Cur)
		return nil
	case fault.IsGone(err):
		return nil // someone else acted first
	case fsx.IsExist(err):
		return t.doneBefore(c, m.newDir+"/"+c.Base)
	case fsx.IsCrossDevice(err):
		return err
	}
	return fault.Classify(err)
}

// doneBefore handles a destination that already holds B: the same bytes
// mean an earlier hand-off finished, so only the claim is left to drop.
func (t *MaildirTree) doneBefore(c intake.Claim, there string) error {
	same, err := sameContent(c.Path, there)
	if err != nil {
		if fault.IsGone(err) {
			return nil
		}
		return fault.Classify(err)
	}
	if !same {
		return fault.Permanent(fmt.Errorf("%s exists already and holds another message", there))
	}
	if err := c.Drop(); err != nil {
		return fault.Classify(err)
	}
	t.Sync.Mark(c.Cur)
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
			return fault.Temporary(err)
		}
		return nil
	}
	if err := t.Sync.Commit(); err != nil {
		return fault.Temporary(err)
	}
	crashPoint("dirs-synced")
	var first error
	for _, p := range t.pending {
		if err := p.claim.Drop(); err != nil && first == nil {
			first = fault.Temporary(err)
		}
		crashPoint("unlinked")
		t.Sync.Mark(p.claim.Cur)
		p.lock.Close()
	}
	t.pending = t.pending[:0]
	t.Sync.Kick()
	return first
}

// ClaimsWaiting reports whether claims wait for a Commit to be dropped
// (copies across file systems, see pending).
func (t *MaildirTree) ClaimsWaiting() bool { return len(t.pending) > 0 }

// Took implements Target. The copies placed are made durable first: the
// deferral that keeps them as done must not outlive them in a crash.
func (t *MaildirTree) Took(c intake.Claim, dests []Dest) []Dest {
	if t.inHand != c.Path || len(t.placed) == 0 {
		return nil
	}
	if t.Sync.Commit() != nil {
		return nil // not durable: the retry places them again, or finds them there
	}
	var out []Dest
	for _, d := range dests {
		if p, err := t.dirOf(d); err == nil && t.placed[p] {
			out = append(out, d)
		}
	}
	return out
}

// Close implements Target: everything handed off is durable when it
// returns, and no directory below QUEUE is left open.
func (t *MaildirTree) Close() error {
	err := t.Commit()
	t.closeAll()
	if serr := t.Sync.Commit(); serr != nil && err == nil {
		err = fault.Temporary(serr)
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
