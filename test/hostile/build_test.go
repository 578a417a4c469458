package hostile

import (
	"testing"

	"mdpipe/internal/testkit"
)

// bin is the directory holding the mdpipe commands this package runs,
// built once before the tests (mode 0755: some tests run a tool as an
// unprivileged user).
var bin string

func TestMain(m *testing.M) { testkit.MainBuilt(m, &bin) }
