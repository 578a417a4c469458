package fsx

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"mdpipe/internal/testkit"

	"golang.org/x/sys/unix"
)

// fdTableSize reads the size of this process's descriptor table: the
// FDSize line of /proc/self/status.
func fdTableSize(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "FDSize:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no FDSize in /proc/self/status")
	return 0
}

// GrowFdTable grows the table to hold the descriptors asked for, and
// closes what it opened.
func TestGrowFdTable(t *testing.T) {
	want := 4 * fdTableSize(t)
	if lim := nofile(t); lim < uint64(want) {
		t.Skipf("RLIMIT_NOFILE %d, below the %d this test grows to", lim, want)
	}
	before := testkit.OpenFds(t)
	if err := GrowFdTable(want); err != nil {
		t.Fatal(err)
	}
	if got := fdTableSize(t); got < want {
		t.Errorf("the table holds %d descriptors after GrowFdTable(%d)", got, want)
	}
	if after := testkit.OpenFds(t); after != before {
		t.Errorf("%d descriptors open after GrowFdTable, %d before", after, before)
	}
}

// GrowFdTable leaves a descriptor open where its growth starts as it was.
func TestGrowFdTableKeepsOthers(t *testing.T) {
	want := 2 * fdTableSize(t)
	if lim := nofile(t); lim < uint64(want)+1 {
		t.Skipf("RLIMIT_NOFILE %d, below the %d this test grows to", lim, want+1)
	}
	dir := t.TempDir()
	held, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Dup3(held, want-1, unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	unix.Close(held)
	defer unix.Close(want - 1)
	before := testkit.OpenFds(t)
	if err := GrowFdTable(want); err != nil {
		t.Fatal(err)
	}
	var st, dirSt unix.Stat_t
	if err := unix.Fstat(want-1, &st); err != nil {
		t.Fatalf("descriptor %d, open before, after GrowFdTable: %v", want-1, err)
	}
	if err := unix.Stat(dir, &dirSt); err != nil {
		t.Fatal(err)
	}
	if st.Ino != dirSt.Ino || st.Dev != dirSt.Dev {
		t.Errorf("descriptor %d no longer leads to %s", want-1, dir)
	}
	if after := testkit.OpenFds(t); after != before {
		t.Errorf("%d descriptors open after GrowFdTable, %d before", after, before)
	}
}

// nofile returns RLIMIT_NOFILE's soft limit.
func nofile(t *testing.T) uint64 {
	t.Helper()
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	return lim.Cur
}

// GrowFdTable asks no more than RLIMIT_NOFILE allows, and grows the
// table as far as that.
func TestGrowFdTableLimit(t *testing.T) {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	soft := uint64(2 * fdTableSize(t))
	if soft > lim.Max {
		t.Skipf("RLIMIT_NOFILE's hard limit %d, below the %d this test sets", lim.Max, soft)
	}
	low := unix.Rlimit{Cur: soft, Max: lim.Max}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &lim)
	if err := GrowFdTable(int(soft) + 1000); err != nil {
		t.Errorf("GrowFdTable past RLIMIT_NOFILE %d: %v", soft, err)
	}
	if got := fdTableSize(t); got < int(soft) {
		t.Errorf("the table holds %d descriptors, RLIMIT_NOFILE %d", got, soft)
	}
}
