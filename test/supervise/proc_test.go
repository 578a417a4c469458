package supervise

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stageNames are the commands of the pipeline, in order.
var stageNames = []string{"mdclaim", "mdroute", "mdsweep", "mdfail"}

// children returns the pids of pid's children, from /proc: the process
// tree under a supervisor the test started, never a search by name.
func children(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var kids []int
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, w := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(w); err == nil {
				kids = append(kids, n)
			}
		}
	}
	return kids
}

func comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// alive reports whether pid is a process that has not exited (a zombie
// has).
func alive(pid int) bool {
	st := state(pid)
	return st != 0 && st != 'Z'
}

// state returns the process's state letter from /proc/PID/stat (R, S, T,
// Z...), or 0 if there is no such process.
func state(pid int) byte {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// stages waits until mdpipe-service has its four stages, and returns
// their pids by name.
func stages(t *testing.T, service int) map[string]int {
	t.Helper()
	var st map[string]int
	waitFor(t, 10*time.Second, func() (bool, string) {
		st = map[string]int{}
		for _, k := range children(service) {
			st[comm(k)] = k
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
			if alive(p) {
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
			if alive(p) && comm(p) == name {
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
