package handoff

// The set-up helpers, for the tests of package handoff_test too.
var (
	MkMaildir = mkMaildir
	ClaimIn   = claimIn
)
