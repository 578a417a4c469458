package handoff

import (
	"time"

	"mdpipe/internal/intake"

	"golang.org/x/sys/unix"
)

// claimAt returns the directory and the name under which to reach c: the
// intake's cur/, kept open (fsx.KeptDir) so that the check and the rename
// of each hand-off name the claim by one component, and c's name in it;
// or, if cur/ cannot be opened, AT_FDCWD and c's whole path, and the
// calls on it say why. A claim renamed meanwhile from the directory kept
// open is still one of ours, named by its own record.
func (t *MaildirTree) claimAt(c intake.Claim) (dirfd int, name string) {
	if fd := t.claims.At(c.Cur, time.Now()); fd >= 0 {
		return fd, c.Base + intake.ClaimInfo
	}
	return unix.AT_FDCWD, c.Path
}
