package postfixsite

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// lockFile serialises the private Postfix instances of all test packages
// on this machine: go test runs the packages of ./... in parallel, and
// two MTAs at once on two shared CPUs make both slow.
const lockFile = "mdpipe-postfix-test.lock"

// lockWait bounds the wait for another package's Postfix test; go test's
// own timeout per package is 10 minutes.
const lockWait = 5 * time.Minute

// lockInstance takes the machine-wide lock, waiting for another
// test package to release it, and releases it when the test ends: the
// clean-up is registered before Start registers Postfix's stop, so that it
// runs after that.
func lockInstance(t *testing.T) {
	t.Helper()
	dir := "/run/lock"
	if _, err := os.Stat(dir); err != nil {
		dir = os.TempDir()
	}
	path := filepath.Join(dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	var lockErr error
	took := false
	for deadline := began.Add(lockWait); ; {
		if lockErr = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); lockErr == nil {
			took = true
			break
		}
		if lockErr != syscall.EWOULDBLOCK || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !took {
		f.Close()
		t.Fatalf("lock '%s': %v (another test's Postfix held it for %v)", path, lockErr, time.Since(began).Round(time.Second))
	}
	if waited := time.Since(began); waited > time.Second {
		t.Logf("waited %v for another test package's Postfix (lock '%s')", waited.Round(time.Millisecond), path)
	}
	// Closing the only descriptor releases the flock.
	t.Cleanup(func() { f.Close() })
}
