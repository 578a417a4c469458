// Package isolation holds black-box acceptance tests, run on the built
// tools, for the isolation of failures: one failing destination, one
// unreadable entry or one stop must cost only itself, never the mail of
// the other lists, and must leave nothing claimed.
package isolation

import (
	"testing"

	"mdpipe/internal/testkit"
)

// bin is the directory holding the mdpipe commands this package runs,
// built once before the tests (mode 0755: one test runs the pipeline as
// an unprivileged user).
var bin string

func TestMain(m *testing.M) { testkit.MainBuilt(m, &bin) }
