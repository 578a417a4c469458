package supervise

import (
	"fmt"
	"mdpipe/internal/testkit"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stageNames are the commands of the pipeline, in order.
var stageNames = []string{"mdclaim", "mdroute", "mdsweep", "mdfail"}

// stages waits until mdpipe-service has its four stages, and returns
// their pids by name.
func stages(t *testing.T, service int) map[string]int {
	t.Helper()
	var st map[string]int
	waitFor(t, 10*time.Second, func() (bool, string) {
		st = map[string]int{}
		for _, k := range testkit.Children(service) {
			st[testkit.Comm(k)] = k
		}
		for _, n := range stageNames {
			if _, ok := st[n]; !ok {
				return false, fmt.Sprintf("mdpipe-service %d has children %v", service, st)
			}
		}
		return true, ""
	})
	return st
}

// waitGone waits until none of the pids is alive.
func waitGone(t *testing.T, pids map[string]int, within time.Duration) {
	t.Helper()
	waitFor(t, within, func() (bool, string) {
		for n, p := range pids {
			if testkit.Alive(p) {
				return false, fmt.Sprintf("%s (pid %d) still runs", n, p)
			}
		}
		return true, ""
	})
}

// seen records the pipeline processes a test saw, so that its clean-up
// can end, by pid, any that outlived their supervisor.
type seen map[int]string

func (s seen) add(pids map[string]int) {
	for n, p := range pids {
		s[p] = n
	}
}

// startSupervisor starts a supervisor the test owns, and ends it by pid
// when the test ends: first as its tool asks (stop), then by SIGKILL; then
// any pipeline process it left behind.
func startSupervisor(t *testing.T, cmd *exec.Cmd, stop func(), procs seen) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s (pid %d) did not exit: killing it", cmd.Path, cmd.Process.Pid)
			cmd.Process.Kill()
			<-done
		}
		for p, name := range procs {
			if testkit.Alive(p) && testkit.Comm(p) == name {
				t.Errorf("%s (pid %d) outlived its supervisor: killing it", name, p)
				syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})
}

func readPid(t *testing.T, file string) int {
	t.Helper()
	var pid int
	waitFor(t, 10*time.Second, func() (bool, string) {
		b, err := os.ReadFile(file)
		if err != nil {
			return false, err.Error()
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0, fmt.Sprintf("%s holds %q", file, b)
	})
	return pid
}
