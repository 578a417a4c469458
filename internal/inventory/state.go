// Package inventory reads what an intake maildir holds, message by
// message and in sum, without changing it: the state of each message, how
// long it has waited, and why it was parked. mdq(1) prints it; its -R and
// -D, the only writes, live in act.go.
package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"mdpipe/internal/intake"
	"mdpipe/internal/reason"

	"golang.org/x/sys/unix"
)

// State is where a message stands in the intake maildir.
type State int

// The states, in the order a message passes them. Adding one is a
// constant here and its name in stateNames.
const (
	New      State = iota // new/B: delivered, not yet claimed
	Claimed               // cur/B:1,P, held by a live process or claimed just now
	Stranded              // cur/B:1,P that nobody holds, claimed long ago: mdclaim -r returns it
	Deferred              // waiting for its next try (none yet: a later change adds it)
	Parked                // cur/B:1,X: failed for good, waiting for a person
	numStates
)

var stateNames = [numStates]string{"new", "claimed", "stranded", "deferred", "parked"}

func (s State) String() string { return stateNames[s] }

// States lists every state, in order.
func States() []State {
	s := make([]State, numStates)
	for i := range s {
		s[i] = State(i)
	}
	return s
}

// Waiting reports whether a message in state s waits for the pipeline
// (rather than for a person): what mdq -w watches.
func (s State) Waiting() bool { return s == New || s == Claimed || s == Stranded }

// Message is one message of the intake.
type Message struct {
	Path   string        // the maildir as given, joined with new/B or cur/NAME
	State  State         //
	Age    time.Duration // since delivery (the file's mtime, which renames keep)
	Reason string        // why it was parked; "" when none was kept
}

// Options says how to tell the states apart.
type Options struct {
	// StrandedAfter: a claim nobody holds is stranded once it has been
	// claimed this long. Younger, it is on its way between mdclaim and
	// mdsweep, which locks a claim only while handing it off.
	StrandedAfter time.Duration
	Now           time.Time // zero: time.Now()
}

// ErrNoMaildir says the directory has no new/ and cur/ to read.
var ErrNoMaildir = errors.New("not a maildir (no new/ and cur/)")

// Scan passes each message of the intake maildir to each, new/ first and
// then cur/, oldest name first in each. It only reads: no lock is taken
// (a lock held for a moment would make a hand-off skip its claim), and
// whether a live process holds a claim comes from the kernel's table of
// locks (see heldLocks).
func Scan(maildir string, opt Options, each func(Message)) error {
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	held, lockErr := heldLocks()
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(maildir, sub)
		names, fd, err := readNames(dir)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				return fmt.Errorf("cannot read '%s': %w", maildir, ErrNoMaildir)
			}
			return fmt.Errorf("cannot read '%s': %w", dir, err)
		}
		scanDir(dir, sub, fd, names, now, opt.StrandedAfter, held, lockErr == nil, each)
		unix.Close(fd)
	}
	return nil
}

func readNames(dir string) ([]string, int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, -1, err
	}
	f := os.NewFile(uintptr(fd), dir)
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return nil, -1, err
	}
	// Readdirnames leaves the descriptor open for our Fstatat: dup it
	// away from f, whose finalizer would close it.
	dup, err := unix.Dup(fd)
	f.Close()
	if err != nil {
		return nil, -1, err
	}
	slices.Sort(names)
	return names, dup, nil
}

func scanDir(dir, sub string, fd int, names []string, now time.Time, strandedAfter time.Duration,
	held map[devIno]bool, locksKnown bool, each func(Message)) {
	var why map[string]bool // bases with a kept reason
	if sub == "cur" {
		for _, n := range names {
			if b, ok := reason.BaseOf(n); ok {
				if why == nil {
					why = make(map[string]bool)
				}
				why[b] = true
			}
		}
	}
	for _, n := range names {
		if strings.HasPrefix(n, ".") || strings.ContainsAny(n, "\t\n") {
			// Not a message: maildir readers skip dot names, and a
			// name no record can carry is one mdclaim never claims.
			continue
		}
		var st unix.Stat_t
		if unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue // gone since the read, or no message (regular files only)
		}
		m := Message{Path: filepath.Join(dir, n), Age: now.Sub(time.Unix(st.Mtim.Unix()))}
		switch {
		case sub == "new":
			m.State = New
		case strings.HasSuffix(n, intake.FailInfo):
			m.State = Parked
			if b := intake.Base(n); why[b] {
				m.Reason, _ = reason.Read(dir, b)
			}
		case strings.HasSuffix(n, intake.ClaimInfo):
			claimedFor := now.Sub(time.Unix(st.Ctim.Unix()))
			m.State = Claimed
			if locksKnown && !held[devIno{st.Dev, st.Ino}] && claimedFor >= strandedAfter {
				m.State = Stranded
			}
		default:
			continue // not one of the intake's states
		}
		each(m)
	}
}
