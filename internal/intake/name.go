// Package intake moves messages through the states of the intake maildir
// (DESIGN: "States of a message"): new/B, the claim cur/B:1,P, the parked
// failure cur/B:1,X. Each move is one no-replace rename of an exact path
// (DESIGN rules 1 and 2), so that several runners can share one maildir.
package intake

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// The maildir "experimental semantics" infos the seed used for a claim
// and a parked failure.
const (
	ClaimInfo = ":1,P"
	FailInfo  = ":1,X"
)

// Base returns the maildir unique name B: everything before the first ':'.
func Base(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[:i]
	}
	return name
}

// ErrNotClaim says a path is not an intake claim.
var ErrNotClaim = errors.New("not a claim (want MAILDIR/cur/B" + ClaimInfo + ")")

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

// unsafeName explains why a directory entry cannot become a record.
func unsafeName(name string) error {
	if strings.ContainsAny(name, "\t\n") {
		return fmt.Errorf("name holds a TAB or a newline, which the record format cannot carry")
	}
	return nil
}
