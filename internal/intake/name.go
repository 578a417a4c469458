// Package intake moves messages through the states of the intake maildir
// (mdpipe(7), States): new/B, the claim cur/B:1,P, the parked
// failure cur/B:1,X. It is the one package that changes a claim's state:
// Claimer makes claims, and a Claim's verbs (lifecycle.go) lock, hand off,
// drop, park and give back. Each move is one no-replace rename of an
// exact path (mdpipe(7), RULES: the owner rule, never overwrite), so that
// several runners can share one maildir.
package intake

import (
	"fmt"
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

// unsafeName explains why a directory entry cannot become a record.
func unsafeName(name string) error {
	if strings.ContainsAny(name, "\t\n") {
		return fmt.Errorf("name holds a TAB or a newline, which the record format cannot carry")
	}
	return nil
}
