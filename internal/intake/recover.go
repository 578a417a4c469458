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

// Recover returns to new/ every claim older than age that no process holds
// a lock on (mdpipe(7), RULES: no stranded claims): the claims of a
// pipeline that died. Age is measured from the claim's ctime, which the
// claiming rename set. It calls returned for each claim it moved back,
// and skipped, if not nil, for each claim it had to leave without
// knowing whether anyone holds it (one it cannot open or lock, or one
// that is not a regular file), with the reason: recovery never passes
// over a claim in silence. A claim a live process holds is no news.
func Recover(maildir string, age time.Duration, returned func(claim, back string), skipped func(claim string, why error)) error {
	cur := filepath.Join(maildir, "cur")
	ents, err := os.ReadDir(cur)
	if err != nil {
		return fmt.Errorf("cannot read '%s': %w", cur, unwrapPath(err))
	}
	if skipped == nil {
		skipped = func(string, error) {}
	}
	now := time.Now()
	var first error
	for _, de := range ents {
		name := de.Name()
		if !strings.HasSuffix(name, ClaimInfo) || strings.HasPrefix(name, ".") {
			continue
		}
		c, err := ParseClaim(filepath.Join(cur, name))
		if err != nil {
			continue // no name mdclaim makes: not a claim
		}
		err = recoverOne(c, now, age, returned, skipped)
		if err != nil && first == nil {
			first = err
		}
	}
	return first
}

func recoverOne(c Claim, now time.Time, age time.Duration, returned func(claim, back string), skipped func(string, error)) error {
	f, st, err := fsx.OpenRegular(c.Path)
	if fault.IsGone(err) {
		return nil // handed off or parked since the read of cur/
	}
	if err != nil {
		// Not a regular file, or one that refuses us: nothing here can
		// tell whether a process holds it, so a person must look.
		skipped(c.Path, fsx.DeniedByFile(c.Path, unwrapPath(err)))
		return nil
	}
	defer f.Close()
	ctime := time.Unix(st.Ctim.Unix())
	if now.Sub(ctime) < age {
		return nil
	}
	if ok, err := fsx.TryLock(f); err != nil {
		skipped(c.Path, fmt.Errorf("cannot tell whether a process holds it: flock: %w", err))
		return nil
	} else if !ok {
		return nil // held: a hand-off is under way
	}
	back, err := c.returnUnlocked(f)
	if back {
		returned(c.Path, c.NewPath())
	}
	return err
}

// CleanTmp removes intake tmp/ files older than 36 hours, the maildir
// rule for deliveries an MTA abandoned.
func CleanTmp(dir string) error { return maildir.Dir(dir).Clean() }
