package intake

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/reason"

	"golang.org/x/sys/unix"
)

// The deferred state. A message whose hand-off failed temporarily for
// some of its destinations waits as cur/B:1,D: not a claim (nobody holds
// it, it does not count against mdclaim's bound, and recovery leaves it
// alone), so a stop, a crash or a restart keeps it as it is. Its mtime is
// its next try, as in Postfix's deferred queue, so the schedule needs no
// file of its own. Two dot-files beside it, which no maildir reader
// looks at: cur/.B.why, the last temporary failure (the kept reason,
// see reason.Path), and cur/.B.done, the destinations that took it
// already, so that a retry hands it off only to the others.

// DeferInfo is the maildir info of a deferred message.
const DeferInfo = ":1,D"

// Dest is one destination of a message: one routed record.
type Dest struct {
	List      string
	Subqueue  string
	Recipient string
}

// DeferPath returns the deferred name of a claim: cur/B:1,D.
func (c Claim) DeferPath() string { return filepath.Join(c.Cur, c.Base+DeferInfo) }

// DonePath is where the destinations that took message B are kept, in
// the directory cur.
func DonePath(cur, base string) string { return filepath.Join(cur, "."+base+".done") }

// Defer moves the claim to the deferred state until next: it keeps done
// (the destinations that took the message so far) in cur/.B.done, fsynced
// before the rename, and why as the kept reason; sets the file's mtime to
// next; and renames cur/B:1,P to cur/B:1,D without overwriting (mdpipe(7),
// RULES: never overwrite). The caller fsyncs cur/ for the rename. A claim
// gone already is fault.ErrGone: someone else acted first (mdpipe(7),
// RULES: the owner rule).
func (c Claim) Defer(next time.Time, why string, done []Dest) error {
	if err := writeDone(DonePath(c.Cur, c.Base), done); err != nil {
		return err
	}
	// The reason is only shown (mdq); losing it in a crash loses text,
	// never the message, so it gets no fsync of its own.
	if err := reason.Write(c.Cur, c.Base, why); err != nil {
		return err
	}
	// The next try goes on the reason too, which is ours: only a
	// file's owner may date it, and a pipeline that does not own the
	// message (another user delivered it) still keeps its schedule.
	ts := []unix.Timespec{{Nsec: unix.UTIME_OMIT}, unix.NsecToTimespec(next.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, reason.Path(c.Cur, c.Base), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: reason.Path(c.Cur, c.Base), Err: err}
	}
	switch err := unix.UtimesNanoAt(unix.AT_FDCWD, c.Path, ts, unix.AT_SYMLINK_NOFOLLOW); err {
	case nil, unix.EPERM, unix.EACCES:
	case unix.ENOENT:
		return fault.ErrGone
	default:
		return &os.PathError{Op: "utimensat", Path: c.Path, Err: err}
	}
	if err := fsx.Rename(c.Path, c.DeferPath()); err != nil {
		if fault.IsGone(err) {
			return fault.ErrGone
		}
		return unwrapPath(err)
	}
	return nil
}

// ReadDone returns the destinations that took the claim's message
// before, and whether it was ever deferred (cur/.B.done is there, even
// empty).
//
// A streaming mdsweep asks a DoneIndex instead, which asks this only for
// the messages that have such a list.
func (c Claim) ReadDone() ([]Dest, bool, error) {
	p := DonePath(c.Cur, c.Base)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err == unix.ENOENT {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, &os.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	b, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return nil, false, err
	}
	var done []Dest
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		if len(f) != 3 {
			continue // a line cut short by a crash: that hand-off was not kept
		}
		done = append(done, Dest{List: f[0], Subqueue: f[1], Recipient: f[2]})
	}
	return done, true, nil
}

// Forget removes what the deferred state kept beside the message (which
// destinations took it, and the last failure), once it is handed off to
// all of them or requeued.
func (c Claim) Forget() error {
	for _, p := range []string{DonePath(c.Cur, c.Base), reason.Path(c.Cur, c.Base)} {
		if err := unix.Unlink(p); err != nil && err != unix.ENOENT {
			return &os.PathError{Op: "unlink", Path: p, Err: err}
		}
	}
	return nil
}

// ForgetDone removes cur/.B.done only: for a message parked, whose
// reason mdfail writes anew.
func (c Claim) ForgetDone() error {
	p := DonePath(c.Cur, c.Base)
	if err := unix.Unlink(p); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "unlink", Path: p, Err: err}
	}
	return nil
}

// writeDone writes the list of destinations through a temporary name and
// a rename over the old list (a dot-file's, never a message's), fsynced
// with its directory when it names any: the rename to D must not reach
// the disk before it.
func writeDone(p string, done []Dest) error {
	var b bytes.Buffer
	for _, d := range done {
		fmt.Fprintf(&b, "%s\t%s\t%s\n", d.List, d.Subqueue, d.Recipient)
	}
	tmp := p + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|unix.O_NOFOLLOW, 0o640)
	if err != nil {
		return err
	}
	_, err = f.Write(b.Bytes())
	if err == nil && len(done) > 0 {
		// Only a list with something in it must survive a crash: an
		// empty one lost says no more than it said.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if len(done) > 0 {
		// Its name too, before the rename to D, which a crash could
		// otherwise keep without it.
		err = syncDir(filepath.Dir(p))
	}
	return err
}

func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return &os.PathError{Op: "fsync", Path: dir, Err: err}
	}
	return nil
}

// ClaimDue claims, oldest name first, up to max (<= 0: no limit) of the
// deferred messages whose next try (mtime) is not after now, by one
// no-replace rename cur/B:1,D -> cur/B:1,P each (mdpipe(7), RULES: the
// owner rule; ENOENT: another runner took it first). It passes each
// claim's path to emit and returns the earliest next try of the deferred
// messages it left (zero when none), and how many it claimed.
func ClaimDue(maildir string, now time.Time, max int, emit func(path string)) (time.Time, int, error) {
	cur := filepath.Join(maildir, "cur")
	fd, err := openDir(cur)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("cannot read '%s': %w", cur, unwrapPath(err))
	}
	defer unix.Close(fd)
	ents, _, err := oldest(cur, fd, 1<<30, func(name string, typ os.FileMode) bool {
		return typ.IsRegular() && strings.HasSuffix(name, DeferInfo) && !strings.HasPrefix(name, ".") &&
			strings.Count(name, ":") == 1 && unsafeName(name) == nil
	})
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("cannot read '%s': %w", cur, unwrapPath(err))
	}
	var next time.Time
	n := 0
	for _, e := range ents {
		var st unix.Stat_t
		if unix.Fstatat(fd, e.name, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
			continue // taken by another runner since the read
		}
		at := NextTry(fd, Base(e.name), st)
		if at.After(now) || (max > 0 && n >= max) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		claim := Base(e.name) + ClaimInfo
		switch err := fsx.RenameAt(fd, e.name, fd, claim); {
		case err == nil:
			emit(filepath.Join(cur, claim))
			n++
		case fault.IsGone(err):
		case fsx.IsExist(err):
			// Two of one name: a person must look; the claim is
			// another's. Try it again later, not in a loop.
			if next.IsZero() || now.Add(time.Minute).Before(next) {
				next = now.Add(time.Minute)
			}
		default:
			return next, n, fmt.Errorf("cannot claim '%s': %w", filepath.Join(cur, e.name), unwrapPath(err))
		}
	}
	return next, n, nil
}

// NextTry returns the next try of the deferred message whose stat is st,
// in the directory open as dirfd: its mtime, or its reason's when that is
// later (a message the pipeline does not own keeps its delivery time).
func NextTry(dirfd int, base string, st unix.Stat_t) time.Time {
	at := time.Unix(st.Mtim.Unix())
	var ws unix.Stat_t
	if unix.Fstatat(dirfd, reason.Name(base), &ws, unix.AT_SYMLINK_NOFOLLOW) == nil {
		if w := time.Unix(ws.Mtim.Unix()); w.After(at) {
			at = w
		}
	}
	return at
}
