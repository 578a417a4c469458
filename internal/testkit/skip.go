package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true, as .ci/run and
// most CI services set it).
func InCI() bool { return os.Getenv("CI") == "true" }

// SkipMissing skips a test for what this machine lacks: root, a Debian
// package, a kernel feature. Every such skip goes through here, so that
// under CI it fails instead: CI installs everything and runs as root, and
// must never pass by skipping. The reason says what is missing and, where
// it helps, how to get it.
func SkipMissing(t testing.TB, format string, args ...any) {
	t.Helper()
	why := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("CI=true, and this test cannot run: %s", why)
	}
	t.Skip("skipped: " + why)
}

// NeedRoot skips (under CI: fails) unless the test runs as root; why says
// what root is for.
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		SkipMissing(t, "needs root, %s", why)
	}
}

// NeedCommand skips (under CI: fails) unless cmd is on PATH; pkg is the
// Debian package that has it.
func NeedCommand(t testing.TB, cmd, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(cmd)
	if err != nil {
		SkipMissing(t, "no %s command (apt-get install %s)", cmd, pkg)
	}
	return p
}
