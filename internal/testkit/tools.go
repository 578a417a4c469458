// Package testkit holds what the integration tests under test/ share:
// the four tools built once per test process, polling with a deadline,
// the test user, a pipeline run as that user, and small file helpers that
// fail the test instead of returning errors.
//
// It is test support only: no command imports it.
package testkit

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Tools are the four commands, in pipeline order.
var Tools = []string{"mdclaim", "mdroute", "mdsweep", "mdfail"}

// built is the directory the four commands are built into, once for all
// the tests of a process; Main removes it. It is mode 0755 under the
// system's temporary directory, so that an unprivileged pipeline user can
// run the commands (go test's own work directory, 0700 root, is closed).
var built struct {
	sync.Once
	dir   string
	err   error
	noGo  bool
	goCmd string
}

// BuildTools returns the directory holding the four commands, built with
// `go build` on the first call of the process. It skips the test when no
// go command is found.
func BuildTools(t testing.TB) string {
	t.Helper()
	build()
	if built.noGo {
		SkipMissing(t, "no go command on PATH (nor in GOROOT) to build the tools")
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

// MainBuilt is Main for a package all of whose tests run the tools: it
// builds them first and sets *dir, so the tests can use the directory
// without a testing.TB at hand.
func MainBuilt(m *testing.M, dir *string) {
	build()
	if built.noGo || built.err != nil {
		fmt.Fprintf(os.Stderr, "testkit: cannot build the tools (no go command: %v): %v\n", built.noGo, built.err)
		os.Exit(1)
	}
	*dir = built.dir
	Main(m)
}

// build runs go build for the four tools and mdq, once per process.
func build() {
	built.Do(func() {
		goCmd, ok := findGo()
		if !ok {
			built.noGo = true
			return
		}
		built.goCmd = goCmd
		if built.dir, built.err = os.MkdirTemp("", "mdpipe-test-bin-"); built.err != nil {
			return
		}
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		args := []string{"build", "-o", built.dir + "/"}
		// mdq too: the tests look at the intake, and release claims, as
		// a person would.
		for _, tool := range append(Tools[:len(Tools):len(Tools)], "mdq") {
			args = append(args, "mdpipe/cmd/"+tool)
		}
		if out, err := exec.Command(goCmd, args...).CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
}

// findGo returns the go command: on PATH, or else in GOROOT, which go
// test called by its full path, without go on PATH, sets for the test
// binary.
func findGo() (string, bool) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, true
	}
	p := filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	if _, err := os.Stat(p); os.Getenv("GOROOT") == "" || err != nil {
		return "", false
	}
	return p, true
}

// GoCommand returns the go command BuildTools builds with; it skips the
// test when there is none.
func GoCommand(t testing.TB) string {
	t.Helper()
	p, ok := findGo()
	if !ok {
		SkipMissing(t, "no go command on PATH (nor in GOROOT) to build the tools")
	}
	return p
}

// service is mdpipe-service, built into the tools' directory once for
// all the tests of a process.
var service struct {
	sync.Once
	err error
}

// BuildService returns BuildTools's directory, holding mdpipe-service
// too: the tests of a supervised pipeline run the service script.
func BuildService(t testing.TB) string {
	t.Helper()
	dir := BuildTools(t)
	service.Do(func() {
		out, err := exec.Command(built.goCmd, "build", "-o", dir+"/", "mdpipe/cmd/mdpipe-service").CombinedOutput()
		if err != nil {
			service.err = fmt.Errorf("go build mdpipe-service: %v\n%s", err, out)
		}
	})
	if service.err != nil {
		t.Fatal(service.err)
	}
	return dir
}

// Main runs the tests and removes the tools BuildTools built; a test
// package's TestMain calls it.
func Main(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}
