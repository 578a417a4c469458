package fsx

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// openN opens n files of dir, each a new descriptor.
func openN(t *testing.T, dir string, n int) []int {
	t.Helper()
	fds := make([]int, n)
	for i := range fds {
		p := filepath.Join(dir, "m"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		fds[i] = fd
	}
	return fds
}

func isOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// TestClosesRuns: Flush closes every descriptor added, one close_range a
// run of consecutive numbers, and leaves open a descriptor it was not
// given, even one between two of its own.
func TestClosesRuns(t *testing.T) {
	for _, noRange := range []bool{false, true} {
		name := map[bool]string{false: "close_range", true: "close_range refused"}[noRange]
		t.Run(name, func(t *testing.T) {
			var ranges [][2]int
			saved := closeRange
			t.Cleanup(func() { closeRange = saved })
			closeRange = func(first, last int) error {
				if noRange {
					return unix.ENOSYS
				}
				ranges = append(ranges, [2]int{first, last})
				return saved(first, last)
			}
			dir := t.TempDir()
			fds := openN(t, dir, 8)
			// Someone else's descriptor in the middle of ours.
			other := fds[4]
			ours := append(append([]int{}, fds[:4]...), fds[5:]...)
			defer unix.Close(other)

			var c Closes
			for i := len(ours) - 1; i >= 0; i-- { // any order
				c.Add(ours[i])
			}
			if len(c.fds) != len(ours) {
				t.Fatalf("%d held, want %d", len(c.fds), len(ours))
			}
			c.Flush()
			for _, fd := range ours {
				if isOpen(fd) {
					t.Errorf("descriptor %d still open after Flush", fd)
				}
			}
			if !isOpen(other) {
				t.Errorf("descriptor %d, not given to Closes, was closed", other)
			}
			if len(c.fds) != 0 {
				t.Errorf("%d held after Flush", len(c.fds))
			}
			// One call a run of two or more consecutive numbers: the
			// kernel numbered ours 0-3 and 5-7 of eight, unless another
			// goroutine of the test opened something meanwhile.
			var want [][2]int
			slices.Sort(ours)
			for i := 0; i < len(ours) && !noRange; {
				j := i + 1
				for j < len(ours) && ours[j] == ours[j-1]+1 {
					j++
				}
				if j-i > 1 {
					want = append(want, [2]int{ours[i], ours[j-1]})
				}
				i = j
			}
			if !noRange && len(want) == 0 {
				t.Fatalf("descriptors %v: no two consecutive, nothing to test", ours)
			}
			if noRange && !c.noRange {
				t.Error("close_range refused, but Closes would try it again")
			}
			if !slices.Equal(ranges, want) {
				t.Errorf("close_range calls %v, want %v", ranges, want)
			}
		})
	}
}

// TestClosesBounded: Closes never holds more than closesMax descriptors;
// the Add that reaches it closes them all.
func TestClosesBounded(t *testing.T) {
	fds := openN(t, t.TempDir(), closesMax)
	var c Closes
	for i, fd := range fds {
		c.Add(fd)
		if held := len(c.fds); held > closesMax-1 {
			t.Fatalf("after %d Adds, %d held", i+1, held)
		}
	}
	for _, fd := range fds {
		if isOpen(fd) {
			t.Fatalf("descriptor %d still open after the %dth Add", fd, closesMax)
		}
	}
}
