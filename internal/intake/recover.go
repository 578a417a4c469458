package intake

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"mdpipe/internal/fsx"

	"github.com/emersion/go-maildir"
)

// Recover returns to new/ every claim older than age that no process holds
// a lock on (mdpipe(7), RULES: no stranded claims): the claims of a
// pipeline that died. Age is measured from the claim's ctime, which the
// claiming rename set. It calls returned for each claim it moved back.
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
	back, err := c.returnUnlocked(f)
	if back {
		returned(c.Path, c.NewPath())
	}
	return err
}

// CleanTmp removes intake tmp/ files older than 36 hours, the maildir
// rule for deliveries an MTA abandoned.
func CleanTmp(dir string) error { return maildir.Dir(dir).Clean() }
