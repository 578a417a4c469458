package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/reason"

	"golang.org/x/sys/unix"
)

// ErrHeld says a live process holds the claim (a hand-off under way): mdq
// leaves it to its owner (mdpipe(7), RULES: the owner rule). Temporary:
// try again once the hand-off is done.
var ErrHeld = errors.New("a live process holds this claim")

// ErrYoung says a claim nobody holds was made too recently to call it
// stranded: it is on its way between mdclaim and mdsweep, whose lock
// comes only with the hand-off. Temporary, as ErrHeld.
var ErrYoung = errors.New("claimed just now: on its way through the pipeline")

// ErrNotMessage says a path is not a message of an intake maildir:
// MAILDIR/new/B, MAILDIR/cur/B:1,P or MAILDIR/cur/B:1,X.
var ErrNotMessage = errors.New("not an intake message (want MAILDIR/new/B, or MAILDIR/cur/B:1,P or B:1,X)")

// ErrIsNew says a message to requeue is in new/ already.
var ErrIsNew = errors.New("in new/ already")

// TrashFolder is where mdq -D puts a message: the maildir's own Maildir++
// trash folder, which a mail client shows and a person can move back from.
const TrashFolder = ".Trash"

// target is a message to act on.
type target struct {
	path, maildir, sub, name, base string
}

func parse(path string) (target, error) {
	dir, name := filepath.Split(path)
	dir = filepath.Clean(dir)
	t := target{path: path, maildir: filepath.Dir(dir), sub: filepath.Base(dir), name: name, base: intake.Base(name)}
	ok := t.base != "" && !strings.HasPrefix(name, ".")
	switch t.sub {
	case "new":
		ok = ok && t.base == name
	case "cur":
		ok = ok && (name == t.base+intake.ClaimInfo || name == t.base+intake.FailInfo)
	default:
		ok = false
	}
	if !ok {
		return t, ErrNotMessage
	}
	return t, nil
}

// Requeue moves a parked or stranded message back to new/ now, where the
// pipeline claims it again, and drops the reason kept for it. It returns
// the new path. A claim a live process holds is refused (ErrHeld).
// A claim nobody holds is moved only once strandedAfter has passed since
// it was claimed (ErrYoung before).
func Requeue(path string, strandedAfter time.Duration, dirs *fsx.DirSync) (string, error) {
	t, err := parse(path)
	if err != nil {
		return "", err
	}
	if t.sub == "new" {
		return "", ErrIsNew
	}
	to := filepath.Join(t.maildir, "new", t.base)
	if err := moveOwned(t, to, strandedAfter); err != nil {
		return "", err
	}
	dirs.Mark(filepath.Dir(t.path))
	dirs.Mark(filepath.Dir(to))
	return to, reason.Remove(filepath.Dir(t.path), t.base)
}

// Drop moves a message, and the reason kept for it, into the maildir's
// trash folder (.Trash/new/ or .Trash/cur/, under the same name), made as
// a Maildir++ folder if it is missing. Nothing is unlinked: a person can
// move it back. It returns the new path. Claims are refused as by Requeue.
func Drop(path string, strandedAfter time.Duration, dirs *fsx.DirSync) (string, error) {
	t, err := parse(path)
	if err != nil {
		return "", err
	}
	trash := filepath.Join(t.maildir, TrashFolder)
	if err := makeFolder(trash); err != nil {
		return "", err
	}
	to := filepath.Join(trash, t.sub, t.name)
	if err := moveOwned(t, to, strandedAfter); err != nil {
		return "", err
	}
	from := filepath.Dir(t.path)
	dirs.Mark(from)
	dirs.Mark(filepath.Dir(to))
	if t.sub == "cur" {
		err := fsx.Rename(reason.Path(from, t.base), reason.Path(filepath.Dir(to), t.base))
		if err != nil && !fault.IsGone(err) {
			return to, fmt.Errorf("moved, but not its reason: %w", err)
		}
	}
	return to, nil
}

// moveOwned renames t to `to` (never over a file there: mdpipe(7),
// RULES: never overwrite) while holding its lock, as mdclaim -r does:
// a hand-off that starts meanwhile finds the claim gone once it locks.
// A claim younger than strandedAfter (by its ctime, which the claiming
// rename set) is left to the pipeline that made it.
func moveOwned(t target, to string, strandedAfter time.Duration) error {
	f, st, err := fsx.OpenRegular(t.path)
	if err != nil {
		return unwrap(err)
	}
	defer f.Close()
	ok, err := fsx.TryLock(f)
	if err != nil {
		return &os.PathError{Op: "flock", Path: t.path, Err: err}
	}
	if !ok {
		return ErrHeld
	}
	if strings.HasSuffix(t.name, intake.ClaimInfo) && time.Since(time.Unix(st.Ctim.Unix())) < strandedAfter {
		return ErrYoung
	}
	if err := fsx.Rename(t.path, to); err != nil {
		if fsx.IsExist(err) {
			return fmt.Errorf("'%s' exists already; a person must look", to)
		}
		return unwrap(err)
	}
	return nil
}

// makeFolder makes a Maildir++ folder (tmp/, new/, cur/ and the empty
// maildirfolder file that marks it), keeping what is there.
func makeFolder(dir string) error {
	for _, d := range []string{dir, filepath.Join(dir, "tmp"), filepath.Join(dir, "new"), filepath.Join(dir, "cur")} {
		if err := os.Mkdir(d, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	fd, err := unix.Open(filepath.Join(dir, "maildirfolder"), unix.O_WRONLY|unix.O_CREAT|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &os.PathError{Op: "open", Path: filepath.Join(dir, "maildirfolder"), Err: err}
	}
	return unix.Close(fd)
}

func unwrap(err error) error {
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
