package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// bin is the directory holding the mdpipe commands this package runs,
// built once by TestMain.
var bin string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "mdpipe-hostile-bin")
	if err != nil {
		fmt.Fprintf(os.Stderr, "hostile: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Some tests run a tool as an unprivileged user, who must reach it.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "hostile: %v\n", err)
		return 1
	}
	build := exec.Command(goTool(), "build", "-o", dir+"/", "mdpipe/cmd/...")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "hostile: building the commands: %v\n", err)
		return 1
	}
	bin = dir
	return m.Run()
}

// goTool is the go command: go test puts its own GOROOT/bin first in
// the PATH of the test binary.
func goTool() string { return "go" }
