package torture

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
	dir, err := os.MkdirTemp("", "mdpipe-torture-bin")
	if err != nil {
		fmt.Fprintf(os.Stderr, "torture: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command(goTool(), "build", "-o", dir+"/", "mdpipe/cmd/...")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "torture: building the commands: %v\n", err)
		return 1
	}
	bin = dir
	return m.Run()
}

// goTool is the go command: go test puts its own GOROOT/bin first in
// the PATH of the test binary.
func goTool() string { return "go" }
