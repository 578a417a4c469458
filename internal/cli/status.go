// Package cli holds what the four mdpipe tools share at their edges: exit
// statuses, the one log format (from package logline, which the packages
// below the tools use directly), reading records from operands or stdin,
// and writing records so that a streaming pipeline never holds mail.
// (The record loop and the stop are internal/stage's.)
package cli

// Status is a qmail-style exit status.
type Status int

// The exit statuses every tool uses (mdpipe(7), EXIT STATUS).
const (
	OK   Status = 0   // did its work
	None Status = 1   // mdclaim only: nothing to claim
	Perm Status = 100 // bad usage, or an input that never will be handled
	Temp Status = 111 // try again later
)

// Worse returns the more serious of two statuses. Temporary outranks
// permanent: a run that hit both must be retried, and a retry re-reports
// the permanent input anyway.
func Worse(a, b Status) Status {
	rank := func(s Status) int {
		switch s {
		case Temp:
			return 3
		case Perm:
			return 2
		case None:
			return 1
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}
