package tool_test

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/tool"
	"mdpipe/internal/tool/mdq"
	"mdpipe/internal/tool/mdsweep"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary be each of the four tools: testscript
// copies it under the tools' names into a directory it puts first on
// PATH, and runs the tool named by os.Args[0]. The scripts and the
// end-to-end tests (through sh -c or os/exec) thus run the real commands,
// built from this package, as a user types them.
func TestMain(m *testing.M) {
	// Under -race each tool would sleep a second at exit (the race
	// runtime's default atexit_sleep_ms=1000): with hundreds of tool runs
	// that is minutes. testscript passes GORACE on to the scripts.
	if g := os.Getenv("GORACE"); !strings.Contains(g, "atexit_sleep_ms") {
		os.Setenv("GORACE", strings.TrimSpace(g+" atexit_sleep_ms=10"))
	}
	testscript.Main(m, map[string]func(){
		"mdclaim": func() { os.Exit(tool.Mdclaim(os.Args[1:])) },
		"mdroute": func() { os.Exit(tool.Mdroute(os.Args[1:])) },
		"mdsweep": func() { os.Exit(mdsweep.Main(os.Args[1:])) },
		"mdfail":  func() { os.Exit(tool.Mdfail(os.Args[1:])) },
		"mdq":     func() { os.Exit(mdq.Main(os.Args[1:])) },
	})
}

// TestScripts runs testdata/script/*.txtar: each tool's output, log
// lines and exit statuses, one script or more per tool.
func TestScripts(t *testing.T) {
	t.Parallel()
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		// A tool that hangs (mdclaim -w never woken) fails the script
		// in minutes, not at go test's -timeout.
		Deadline: time.Now().Add(3 * time.Minute),
		Cmds:     map[string]func(*testscript.TestScript, bool, []string){"exits": cmdExits},
	})
}

// cmdExits is `exits N program [args...]`: exec the program and fail
// unless it exits with status N. testscript's `! exec` only tells zero
// from non-zero, and the tools' contract is 0, 1, 100 or 111.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits status program [args...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: bad status %q", args[0])
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		got = exit.ExitCode()
	case err != nil:
		ts.Fatalf("exits: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}
