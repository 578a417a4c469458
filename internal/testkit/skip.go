package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	noteSkip(t.Name(), why)
	t.Skip("skipped: " + why)
}

// noteSkip appends the skip to the file $MDPIPE_SKIPLOG names, if any:
// make test sets it, and prints the skips and their reasons at the end,
// which go test without -v would not show. One short write with
// O_APPEND, so the test processes running in parallel do not mix lines.
func noteSkip(test, why string) {
	path := os.Getenv("MDPIPE_SKIPLOG")
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	pkg := strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
	f.WriteString(oneLine(fmt.Sprintf("%s %s: %s", pkg, test, why)) + "\n")
}

// oneLine keeps a reason on its line of the skip log.
func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

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
