package testkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The tests that stop or supervise processes look at the processes they
// started through /proc (Linux): which children one has, what each is
// and in what state, always by pid, never by a search by name.

// Children returns the pids of pid's children, of all its threads.
func Children(pid int) []int {
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

// Comm returns pid's command name, "" if there is no such process.
func Comm(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	return strings.TrimSpace(string(b))
}

// State returns pid's state letter (R, S, T, Z...), 0 if there is no
// such process.
func State(pid int) byte {
	return stateIn(fmt.Sprintf("/proc/%d/stat", pid))
}

// Alive reports whether pid is a process that has not exited: a zombie
// waiting to be reaped has.
func Alive(pid int) bool {
	st := State(pid)
	return st != 0 && st != 'Z'
}

// Asleep reports whether every thread of pid sleeps (state S): it waits
// on something, its input or a full pipe. A process gone, or a thread
// ending while it looks, is not asleep: look again.
func Asleep(pid int) bool {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		if stateIn(task) != 'S' {
			return false
		}
	}
	return true
}

// stateIn returns the state letter of a /proc stat file, 0 if it cannot
// be read. The letter follows the command name, which is in parentheses
// and may hold any byte, ")" too: hence the last ")".
func stateIn(stat string) byte {
	b, err := os.ReadFile(stat)
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return 0
	}
	return b[i+2]
}

// OpenFds counts this process's open descriptors, for the tests that
// check that what they ran leaves none open; without /proc/self/fd it
// skips the test.
func OpenFds(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}
