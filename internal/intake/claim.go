package intake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mdpipe/internal/cli"
	"mdpipe/internal/fsx"

	"golang.org/x/sys/unix"
)

// Claimer claims messages from one intake maildir.
type Claimer struct {
	Maildir string // as given on the command line; records are joined to it
	Log     *cli.Log

	// Retry claims parked failures (cur/B:1,X) instead of new/ (mdclaim -x).
	Retry bool

	// Guard, if set, is held from each claim's rename until its path is
	// emitted, so that a stop (SIGTERM) never falls between the two.
	Guard interface {
		Hold()
		Release()
	}

	// reported holds names already logged as skipped, so that a symlink
	// left in new/ is reported once, not at every rescan of a follow run.
	reported map[string]bool
}

// Result of one scan.
type Result struct {
	Claimed int
	More    bool       // the scan window was full: scan again at once
	Status  cli.Status // worst status of the skipped entries
}

// Scan claims up to max messages (max <= 0: no limit), oldest first, and
// passes each claim's path to emit. ENOENT on a claim means another runner
// won it: skipped quietly.
func (c *Claimer) Scan(max int, emit func(path string)) (Result, error) {
	var res Result
	src, keep := filepath.Join(c.Maildir, "new"), c.keepNew
	if c.Retry {
		src, keep = filepath.Join(c.Maildir, "cur"), c.keepFailed
	}
	limit := scanWindow
	if max > 0 {
		// Entries skipped before (a symlink, a name clash) may sort
		// first: widen the window past them, or mdclaim -n 1 would scan
		// the same unclaimable window again and again.
		limit = min(max+len(c.reported), scanWindow)
	}
	srcFd, err := openDir(src)
	if err != nil {
		return res, fmt.Errorf("cannot read '%s': %w", src, unwrapPath(err))
	}
	defer unix.Close(srcFd)
	cur := filepath.Join(c.Maildir, "cur")
	curFd := srcFd
	if !c.Retry {
		if curFd, err = openDir(cur); err != nil {
			return res, fmt.Errorf("cannot claim into '%s': %w", cur, unwrapPath(err))
		}
		defer unix.Close(curFd)
	}
	ents, more, err := oldest(src, srcFd, limit, keep)
	if err != nil {
		return res, fmt.Errorf("cannot read '%s': %w", src, unwrapPath(err))
	}
	res.More = more
	for _, e := range ents {
		if max > 0 && res.Claimed >= max {
			res.More = true
			break
		}
		if e.typ&fs.ModeType != 0 {
			c.skip(e.name, filepath.Join(src, e.name), fmt.Errorf("not a regular file (%s)", kind(e.typ)))
			continue
		}
		if err := unsafeName(e.name); err != nil {
			c.skip(e.name, filepath.Join(src, e.name), err)
			res.Status = cli.Worse(res.Status, cli.Perm)
			continue
		}
		claim := Base(e.name) + ClaimInfo
		if c.Guard != nil {
			c.Guard.Hold()
		}
		err := fsx.RenameAt(srcFd, e.name, curFd, claim)
		if err == nil {
			emit(filepath.Join(cur, claim))
			res.Claimed++
		}
		if c.Guard != nil {
			c.Guard.Release()
		}
		if err == nil || fsx.IsNotExist(err) {
			// ENOENT: another runner claimed it first (DESIGN rule 1).
			continue
		}
		path, to := filepath.Join(src, e.name), filepath.Join(cur, claim)
		switch {
		case fsx.IsExist(err) && halfMoved(path, to):
			// Another runner's link+unlink fallback is between its two
			// calls (or died there): the claim is made, it is not ours.
		case fsx.IsExist(err):
			c.skip(e.name, path, fmt.Errorf("%s exists already; a person must look", to))
			res.Status = cli.Worse(res.Status, cli.Perm)
		default:
			return res, fmt.Errorf("cannot claim '%s': %w", path, unwrapPath(err))
		}
	}
	return res, nil
}

// halfMoved reports whether from is gone or is the same file as to: a
// move by link+unlink that stopped after the link. It finishes the unlink,
// which the mover ignores if it finds the name gone.
func halfMoved(from, to string) bool {
	var a, b unix.Stat_t
	if err := unix.Lstat(from, &a); err != nil {
		return err == unix.ENOENT
	}
	if unix.Lstat(to, &b) != nil || a.Ino != b.Ino || a.Dev != b.Dev {
		return false
	}
	if err := unix.Unlink(from); err != nil && err != unix.ENOENT {
		return false
	}
	return true
}

func (c *Claimer) keepNew(name string) bool {
	if strings.HasPrefix(name, ".") {
		c.skip(name, filepath.Join(c.Maildir, "new", name), errors.New("dot-file, not a message"))
		return false
	}
	return true
}

func (c *Claimer) keepFailed(name string) bool {
	return strings.HasSuffix(name, FailInfo) && !strings.HasPrefix(name, ".")
}

// skip logs a skipped entry once per name.
func (c *Claimer) skip(name, path string, why error) {
	if c.reported == nil {
		c.reported = make(map[string]bool)
	}
	if c.reported[name] {
		return
	}
	if len(c.reported) > 10000 {
		clear(c.reported)
	}
	c.reported[name] = true
	c.Log.Path("skipping", path, why)
}

func kind(t fs.FileMode) string {
	switch {
	case t&fs.ModeSymlink != 0:
		return "a symlink"
	case t&fs.ModeDir != 0:
		return "a directory"
	case t&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case t&fs.ModeDevice != 0:
		return "a device"
	case t&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}

// unwrapPath drops the *PathError or *LinkError wrapper when the caller
// names the path itself, so the log line is `what 'path': reason`, not
// the path twice.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
