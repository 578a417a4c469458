package tool

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/stage"
	"mdpipe/internal/testkit"
)

// A stage whose input never ends (the stage before it does not stop)
// still ends its stop: it drains for the grace, winds down, and exits 0
// once the wind-down is over, within the grace and stage.WindDown.
func TestStopIsBounded(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"mdroute", "mdsweep", "mdfail"} {
		t.Run(tool, func(t *testing.T) {
			t.Parallel()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close() // open until the end: the input never ends
			args := []string{}
			if tool == "mdsweep" {
				args = []string{"-c", "cat >/dev/null"}
			}
			cmd := exec.Command(toolPath(t, tool), args...)
			cmd.Env = toolEnv("MDPIPE_GRACE=200ms")
			cmd.Stdin = r
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			r.Close()
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			defer cmd.Process.Kill()
			if !testkit.Until(30*time.Second, func() bool { return inPoll(cmd.Process.Pid) }) {
				t.Fatalf("%s is not waiting for its input 30s after its start", tool)
			}
			start := time.Now()
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%s: %v after a stop, want exit 0", tool, err)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("%s still runs 30s after SIGTERM", tool)
			}
			if took := time.Since(start); took < 200*time.Millisecond+stage.WindDown {
				t.Errorf("%s exited %v after SIGTERM, before the grace and the wind-down were over", tool, took)
			}
		})
	}
}
