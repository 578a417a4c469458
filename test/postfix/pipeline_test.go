package postfix

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

var tools = []string{"mdclaim", "mdroute", "mdsweep", "mdfail"}

// built is the directory the four commands are built into, once for all
// the tests; TestMain removes it. It must be one the pipeline's user can
// read and execute (go test's own work directory, 0700 root, is not).
var built struct {
	sync.Once
	dir string
	err error
}

// buildTools returns the directory holding the four commands.
func buildTools(t *testing.T) string {
	t.Helper()
	built.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "mdpipe-postfix-bin-"); built.err != nil {
			return
		}
		if built.err = os.Chmod(built.dir, 0o755); built.err != nil {
			return
		}
		args := []string{"build", "-o", built.dir + "/"}
		for _, tool := range tools {
			args = append(args, "mdpipe/cmd/"+tool)
		}
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// stage is one command of a pipeline and what it left.
type stage struct {
	name   string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	status int
}

// runPipeline runs the commands (each a tool name and its arguments)
// connected by pipes, as own, the way sh runs `a | b | c | d`, and returns
// each stage and the last one's stdout once all have exited.
func runPipeline(t *testing.T, bin string, own owner, cmds [][]string) ([]*stage, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stages []*stage
	var last bytes.Buffer
	for i, c := range cmds {
		// setpriv, not a Credential in SysProcAttr: this is the command
		// line a run script would use.
		args := append([]string{"--reuid=" + strconv.Itoa(own.uid), "--regid=" + strconv.Itoa(own.gid),
			"--init-groups", "--", filepath.Join(bin, c[0])}, c[1:]...)
		s := &stage{name: c[0], cmd: exec.CommandContext(ctx, "setpriv", args...)}
		s.cmd.Dir = "/"
		s.cmd.Env = []string{"PATH=/usr/bin:/bin"} // no MD* variables from whoever runs the test
		s.cmd.Stderr = &s.stderr
		if i > 0 {
			out, err := stages[i-1].cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			s.cmd.Stdin = out
		}
		stages = append(stages, s)
	}
	stages[len(stages)-1].cmd.Stdout = &last
	for _, s := range stages {
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	for _, s := range stages {
		err := s.cmd.Wait()
		s.status = s.cmd.ProcessState.ExitCode()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("%s: %v", s.name, err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("pipeline still running after a minute, killed")
	}
	return stages, last.String()
}
