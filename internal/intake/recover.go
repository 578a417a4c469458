package intake

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mdpipe/internal/fault"

	"mdpipe/internal/fsx"

	"github.com/emersion/go-maildir"
)

// Recover returns to new/ every claim older than age that no process
// holds a lock on (DESIGN rule 7): the claims of a pipeline that died.
// Age is measured from the claim's ctime, which the claiming rename set.
// It calls returned for each claim it moved back.
func Recover(maildir string, age time.Duration, returned func(claim, back string)) error {
	cur := filepath.Join(maildir, "cur")
	ents, err := os.ReadDir(cur)
	if err != nil {
		return fmt.Errorf("cannot read '%s': %w", cur, unwrapPath(err))
	}
	now := time.Now()
	var first error
	for _, de := range ents {
		name := de.Name()
		if !strings.HasSuffix(name, ClaimInfo) || strings.HasPrefix(name, ".") || !de.Type().IsRegular() {
			continue
		}
		c, err := ParseClaim(filepath.Join(cur, name))
		if err != nil {
			continue
		}
		err = recoverOne(c, now, age, returned)
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func recoverOne(c Claim, now time.Time, age time.Duration, returned func(claim, back string)) error {
	f, st, err := fsx.OpenRegular(c.Path)
	if err != nil {
		return nil // gone or not a file: nothing to recover
	}
	defer f.Close()
	ctime := time.Unix(st.Ctim.Unix())
	if now.Sub(ctime) < age {
		return nil
	}
	back, err := returnUnlocked(c, f)
	if back {
		returned(c.Path, c.NewPath())
	}
	return err
}

// returnUnlocked renames claim c, open as f, back to new/ unless a
// process holds its lock: a hand-off in progress holds it. Ours lasts
// past the rename, so a hand-off that starts now finds the claim gone
// once it locks. A claim gone meanwhile (handed off or parked) is no
// error.
func returnUnlocked(c Claim, f *os.File) (bool, error) {
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

// CleanTmp removes intake tmp/ files older than 36 hours, the maildir
// rule for deliveries an MTA abandoned.
func CleanTmp(dir string) error { return maildir.Dir(dir).Clean() }

// GiveBack returns a claim to new/ at once (DESIGN rule 8): mdclaim's
// claims still unwritten when it stops, and those mdsweep stops before
// handing off. A claim that is gone, or that a process holds the lock of
// (a hand-off under way), is left as it is. It reports whether the claim
// went back.
func GiveBack(path string) (bool, error) {
	c, err := ParseClaim(path)
	if err != nil {
		return false, err
	}
	f, _, err := fsx.OpenRegular(c.Path)
	if fault.IsGone(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot return '%s' to new/: %w", c.Path, unwrapPath(err))
	}
	defer f.Close()
	return returnUnlocked(c, f)
}
