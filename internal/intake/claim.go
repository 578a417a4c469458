package intake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/logline"
	"mdpipe/internal/reason"

	"golang.org/x/sys/unix"
)

// Claimer claims messages from one intake maildir.
type Claimer struct {
	Maildir string // as given on the command line; records are joined to it
	Log     *logline.Log

	// Retry claims parked failures (cur/B:1,X) instead of new/ (mdclaim -x).
	Retry bool

	// Stream keeps a full window of names between calls of Scan, which
	// then claim a few at a time (mdclaim's bound on claims held);
	// without it, Scan(max) reads only the max oldest names.
	Stream bool

	// The window: the oldest names of the last directory read, not yet
	// tried, and the directories they are renamed between.
	window       []entry
	more         bool // the last read left names out of the window
	srcFd, curFd int
	open         bool

	bad badEntries
}

// Result of one scan.
type Result struct {
	Claimed int
	More    bool // names are left to try: scan again at once

	// Refused counts the entries skipped because they cannot be claimed
	// as they are (a name no claim can carry, a claim name taken, a file
	// that refuses the rename): only a person can mend them, so the tool
	// reports a permanent failure.
	Refused int
}

// Scan claims up to max messages (max <= 0: no limit), oldest first, and
// passes each claim's path to emit. ENOENT on a claim means another runner
// won it: skipped quietly. It reads the directory again only when the
// names of the last read are all tried.
func (c *Claimer) Scan(max int, emit func(path string)) (Result, error) {
	var res Result
	if len(c.window) == 0 {
		if err := c.fill(max); err != nil {
			return res, err
		}
		res.Refused, c.bad.refused = c.bad.refused, 0
	}
	src, cur := c.src(), filepath.Join(c.Maildir, "cur")
	for len(c.window) > 0 {
		if max > 0 && res.Claimed >= max {
			break
		}
		e := c.window[0]
		c.window = c.window[1:]
		claim := Base(e.name) + ClaimInfo
		err := fsx.RenameAt(c.srcFd, e.name, c.curFd, claim)
		if err == nil && c.Retry {
			// A retry clears why the message was parked: a reason
			// left behind would outlive the failure it explains.
			unix.Unlinkat(c.curFd, reason.Name(Base(e.name)), 0)
		}
		if err == nil {
			emit(filepath.Join(cur, claim))
			res.Claimed++
		}
		if err == nil || fault.IsGone(err) {
			// ENOENT: another runner claimed it first (mdpipe(7),
			// RULES: the owner rule).
			continue
		}
		path, to := filepath.Join(src, e.name), filepath.Join(cur, claim)
		switch {
		case fsx.IsExist(err) && halfMoved(path, to):
			// Another runner's link+unlink fallback is between its two
			// calls (or died there): the claim is made, it is not ours.
		case fsx.IsExist(err):
			c.bad.skip(c.Log, e.name, path, fmt.Errorf("%s exists already; a person must look", to), true)
			res.Refused++
		case fault.IsPermanent(err):
			// This entry's own fault (chattr +i, a name the file
			// system refuses): it costs only itself.
			c.bad.skip(c.Log, e.name, path, fmt.Errorf("cannot claim: %w", unwrapPath(err)), true)
			res.Refused++
		default:
			return res, fmt.Errorf("cannot claim '%s': %w", path, unwrapPath(err))
		}
	}
	res.More = len(c.window) > 0 || c.more
	if len(c.window) == 0 {
		c.Close()
	}
	return res, nil
}

func (c *Claimer) src() string {
	if c.Retry {
		return filepath.Join(c.Maildir, "cur")
	}
	return filepath.Join(c.Maildir, "new")
}

// fill reads the directory into the window.
func (c *Claimer) fill(max int) error {
	c.Close()
	src, keep := c.src(), c.keepNew
	if c.Retry {
		keep = c.keepFailed
	}
	limit := scanWindow
	if max > 0 && !c.Stream {
		limit = min(max, scanWindow)
	}
	srcFd, err := openDir(src)
	if err != nil {
		return fmt.Errorf("cannot read '%s': %w", src, unwrapPath(err))
	}
	cur := filepath.Join(c.Maildir, "cur")
	curFd := srcFd
	if !c.Retry {
		if curFd, err = openDir(cur); err != nil {
			unix.Close(srcFd)
			return fmt.Errorf("cannot claim into '%s': %w", cur, unwrapPath(err))
		}
	}
	c.srcFd, c.curFd, c.open = srcFd, curFd, true
	c.bad.startScan()
	ents, more, err := oldest(src, srcFd, limit, keep)
	c.bad.endScan(err == nil && !more)
	if err != nil {
		c.Close()
		return fmt.Errorf("cannot read '%s': %w", src, unwrapPath(err))
	}
	c.window, c.more = ents, more
	return nil
}

// Close releases the directories of the window, and forgets the window.
func (c *Claimer) Close() {
	c.window = nil
	if !c.open {
		return
	}
	if c.curFd != c.srcFd {
		unix.Close(c.curFd)
	}
	unix.Close(c.srcFd)
	c.open = false
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

// keepNew says whether an entry of new/ can be claimed; an entry that
// cannot is logged once.
func (c *Claimer) keepNew(name string, typ fs.FileMode) bool {
	if c.bad.unclaimable(name) {
		return false
	}
	var why error
	refused := false
	switch {
	case strings.HasPrefix(name, "."):
		why = errors.New("dot-file, not a message")
	case typ&fs.ModeType != 0:
		why = fmt.Errorf("not a regular file (%s)", kind(typ))
	default:
		why = claimable(name)
		refused = why != nil
	}
	if why == nil {
		return true
	}
	c.bad.skip(c.Log, name, filepath.Join(c.Maildir, "new", name), why, false)
	if refused {
		c.bad.refused++
	}
	return false
}

func (c *Claimer) keepFailed(name string, typ fs.FileMode) bool {
	return strings.HasSuffix(name, FailInfo) && !strings.HasPrefix(name, ".") &&
		typ&fs.ModeType == 0 && claimable(name) == nil && !c.bad.unclaimable(name)
}

// claimable explains why an entry's claim could not work: a record
// cannot carry its path, or the claim's name could not be parsed back
// or made.
func claimable(name string) error {
	if err := unsafeName(name); err != nil {
		return err
	}
	b := Base(name)
	switch {
	case b == "":
		return errors.New("the name begins with ':', so its claim would have no unique name")
	case len(b)+len(ClaimInfo) > nameMax:
		return fmt.Errorf("its claim name would be longer than %d bytes", nameMax)
	}
	return nil
}

// nameMax is NAME_MAX on Linux file systems.
const nameMax = 255

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

// Check reports, as the one line mdclaim logs, why the maildir cannot be
// claimed from: its new/ or cur/ missing, or not a directory.
func (c *Claimer) Check() error {
	dirs := []string{filepath.Join(c.Maildir, "new"), filepath.Join(c.Maildir, "cur")}
	if c.Retry {
		dirs = dirs[1:]
	}
	for _, d := range dirs {
		fd, err := openDir(d)
		if err != nil {
			return fmt.Errorf("cannot read '%s': %w", d, unwrapPath(err))
		}
		unix.Close(fd)
	}
	return nil
}
