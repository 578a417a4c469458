package intake

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/reason"

	"golang.org/x/sys/unix"
)

// A claim's life, and the one place that changes it. mdclaim makes a
// claim (new/B -> cur/B:1,P, in Claimer.Scan); from then on a claim only
// ever moves by the verbs below, whoever calls them: it is handed off
// (MoveTo, or LinkTo then Drop), deferred (Defer, in deferred.go),
// parked (Park), or given back to new/ (GiveBack, and Recover for the
// claims of a pipeline that died). Each
// verb acts on the exact path the claim has, once, without overwriting
// (mdpipe(7), RULES: the owner rule, never overwrite), and a claim that
// is no longer there is fault.ErrGone or an ENOENT: someone else acted
// first.

// ErrNotClaim says a path is not an intake claim.
var ErrNotClaim = errors.New("not a claim (want MAILDIR/cur/B" + ClaimInfo + ")")

// ErrParked says the claim was parked already: the call is a no-op.
var ErrParked = errors.New("parked already")

// ErrNotInMaildir says a claim name lies in a cur/ that is not a
// maildir's: nothing there is an intake's claim, so nothing is parked.
var ErrNotInMaildir = errors.New("not in a maildir's cur/ (no new/ and tmp/ beside it)")

// Claim is a parsed claim path.
type Claim struct {
	Path    string // as given
	Maildir string // the intake maildir, as given
	Cur     string // Maildir/cur
	Base    string // B
}

// ParseClaim checks that path has the form MAILDIR/cur/B:1,P.
func ParseClaim(path string) (Claim, error) {
	dir, file := filepath.Split(path)
	if !strings.HasSuffix(file, ClaimInfo) || strings.Count(file, ":") != 1 {
		return Claim{}, ErrNotClaim
	}
	cur := filepath.Clean(dir)
	if filepath.Base(cur) != "cur" {
		return Claim{}, ErrNotClaim
	}
	b := strings.TrimSuffix(file, ClaimInfo)
	if b == "" || b[0] == '.' {
		return Claim{}, ErrNotClaim
	}
	return Claim{Path: path, Maildir: filepath.Dir(cur), Cur: cur, Base: b}, nil
}

// FailPath returns the parked name of a claim: cur/B:1,X.
func (c Claim) FailPath() string { return filepath.Join(c.Cur, c.Base+FailInfo) }

// NewPath returns where a claim returns to: new/B.
func (c Claim) NewPath() string { return filepath.Join(c.Maildir, "new", c.Base) }

// Lock opens the claim and holds flock(LOCK_EX) on it, for a hand-off
// that is more than one rename (mdpipe(7), RULES: the owner rule); closing
// the file releases it. A claim locked already is fault.ErrGone, not
// waited for: its holder owns it, and leaves it claimed for mdclaim -r if
// it fails. Waiting would hold this pipeline for as long as another's
// command or LMTP hand-off runs, deaf to SIGTERM, and for ever when the
// holder is ourselves: a claim that came back through recovery while
// still in our input, and whose first hand-off awaits its batch's
// commit. After the lock is taken it checks that the path still names the
// locked file: a recovery or a hand-off may have moved it on since the
// open, and then the claim is fault.ErrGone too.
func (c Claim) Lock() (*os.File, unix.Stat_t, error) {
	f, st, err := fsx.OpenRegular(c.Path)
	if err != nil {
		if fault.IsGone(err) {
			return nil, st, fault.ErrGone
		}
		// A claim whose file refuses us is parked, not retried: a
		// person must look (mdpipe(7), RULES: temporary or permanent).
		return nil, st, fsx.DeniedByFile(c.Path, err)
	}
	if ok, err := fsx.TryLock(f); !ok {
		f.Close()
		if err != nil {
			return nil, st, &os.PathError{Op: "flock", Path: c.Path, Err: err}
		}
		return nil, st, fault.ErrGone
	}
	var now unix.Stat_t
	if err := unix.Lstat(c.Path, &now); err != nil || now.Ino != st.Ino || now.Dev != st.Dev {
		f.Close()
		return nil, st, fault.ErrGone
	}
	return f, st, nil
}

// MoveTo hands the claim off by one no-replace rename into the directory
// open as dirfd, under its unique name B: on one file system, the whole
// hand-off (mdpipe(7), RULES: exactly once). The claim is reached as name
// relative to the directory open as curfd: its cur/ and its name there,
// or AT_FDCWD and its path. An error wraps unix.EEXIST when B is there
// already, unix.ENOENT when the claim or the directory is gone (the
// caller tells them apart), unix.EXDEV across file systems.
func (c Claim) MoveTo(curfd int, name string, dirfd int) error {
	return fsx.RenameAt(curfd, name, dirfd, c.Base)
}

// LinkTo puts the claim's file into the directory open as dirfd as B too,
// by a hard link, which never replaces (mdpipe(7), RULES: never
// overwrite): one of several destinations. The claim stays until Drop.
// The error is the bare errno, unix.EEXIST, unix.ENOENT or unix.EXDEV as
// for MoveTo.
func (c Claim) LinkTo(dirfd int) error {
	return unix.Linkat(unix.AT_FDCWD, c.Path, dirfd, c.Base, 0)
}

// Drop removes the claim once its message is the list manager's: the
// last step of a hand-off by LinkTo, a copy, a command or LMTP. The caller
// holds the claim's lock, so recovery never returns a claim that was
// handed off. A claim gone already is no error.
func (c Claim) Drop() error {
	if err := unix.Unlink(c.Path); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "unlink", Path: c.Path, Err: err}
	}
	return nil
}

// Park parks the claim: cur/B:1,P -> cur/B:1,X by one no-replace rename.
// It returns the X path. A claim name in a cur/ with no new/ and tmp/
// beside it is refused untouched (ErrNotInMaildir), and so is a file that
// is not regular. A claim that is gone while its X exists was parked
// already (ErrParked).
//
// why is kept with the parked message (package reason), written before
// the rename so that an X never lacks the reason it was parked with; an
// empty why removes the reason of an earlier park. The caller fsyncs cur/
// after, which makes both durable.
func (c Claim) Park(why string) (string, error) {
	x := c.FailPath()
	var st unix.Stat_t
	if err := unix.Lstat(c.Path, &st); err != nil {
		if err == unix.ENOENT && exists(x) {
			return x, ErrParked
		}
		return "", err
	}
	for _, d := range []string{"new", "tmp"} {
		var ds unix.Stat_t
		if unix.Stat(filepath.Join(c.Maildir, d), &ds) != nil || ds.Mode&unix.S_IFMT != unix.S_IFDIR {
			return "", ErrNotInMaildir
		}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", fmt.Errorf("%w (%s)", fsx.ErrNotRegular, fsx.KindOf(st.Mode))
	}
	var err error
	if why != "" {
		err = reason.Write(c.Cur, c.Base, why)
	} else {
		err = reason.Remove(c.Cur, c.Base)
	}
	if err != nil {
		return "", err
	}
	err = fsx.Rename(c.Path, x)
	if err != nil && why != "" && !errors.Is(err, unix.EEXIST) && !(fault.IsGone(err) && exists(x)) {
		reason.Remove(c.Cur, c.Base) // not parked: the reason is no one's
	}
	if errors.Is(err, unix.EEXIST) {
		// Both names exist: a link+unlink fallback was cut short between
		// its two calls. The same inode means the park is done but for the
		// unlink; finish it. Another file is two messages with one name.
		var xs unix.Stat_t
		if unix.Lstat(x, &xs) == nil && xs.Ino == st.Ino && xs.Dev == st.Dev {
			if err := unix.Unlink(c.Path); err != nil && err != unix.ENOENT {
				return "", err
			}
			return x, ErrParked
		}
		return "", fmt.Errorf("%s exists already and holds another message", x)
	}
	if err != nil {
		if fault.IsGone(err) && exists(x) {
			return x, ErrParked
		}
		return "", unwrapPath(err)
	}
	return x, nil
}

// GiveBack returns the claim to new/ at once (mdpipe(7), RULES: a clean
// stop): mdclaim's claims still unwritten when it stops, and those
// mdsweep stops before handing off. A claim that is gone, or that a
// process holds the lock of (a hand-off under way), is left as it is. It
// reports whether the claim went back.
func (c Claim) GiveBack() (bool, error) {
	f, _, err := fsx.OpenRegular(c.Path)
	if fault.IsGone(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot return '%s' to new/: %w", c.Path, unwrapPath(err))
	}
	defer f.Close()
	return c.returnUnlocked(f)
}

// returnUnlocked renames the claim, open as f, back to new/ unless a
// process holds its lock: a hand-off in progress holds it. Ours lasts
// past the rename, so a hand-off that starts now finds the claim gone
// once it locks. A claim gone meanwhile (handed off or parked) is no
// error.
func (c Claim) returnUnlocked(f *os.File) (bool, error) {
	ok, err := fsx.TryLock(f)
	if err != nil || !ok {
		return false, nil
	}
	switch err := fsx.Rename(c.Path, c.NewPath()); {
	case err == nil:
		return true, nil
	case fault.IsGone(err):
		return false, nil
	default:
		return false, fmt.Errorf("cannot return '%s' to new/: %w", c.Path, unwrapPath(err))
	}
}

func exists(path string) bool {
	var st unix.Stat_t
	return unix.Lstat(path, &st) == nil
}
