package torture

import (
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Failing destinations: while the writer delivers, one list at a time
// refuses its mail for a second or two (its directories made read-only,
// so that a hand-off into it fails with EACCES, a temporary failure).
// mdsweep defers that list's mail and goes on with the others'; once the
// list takes mail again its deferred messages must arrive, each once.
//
// Root writes into a read-only directory all the same, so as root
// mdsweep runs as the unprivileged uid 65534 (nobody) and the intake and
// the queue are opened up to it.

// nobody is the uid and gid mdsweep runs as when the test runs as root.
const nobody = 65534

// sweepCredential is what mdsweep runs as: nil (the test's own user)
// unless the test runs as root.
func sweepCredential() *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	return &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}
}

// openUp lets mdsweep, running as nobody, reach the intake and the queue
// below root: the directories above them searchable, theirs writable.
func openUp(root, intake, queue string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for d := root; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	for d := filepath.Dir(queue); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			return err
		}
	}
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.Chmod(filepath.Join(intake, d), 0o777); err != nil {
			return err
		}
	}
	return filepath.WalkDir(queue, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o777)
	})
}

// setList makes a list's directory, and the new/ of each of its
// subqueues, writable or read-only.
func setList(queue, list string, writable bool) {
	mode := os.FileMode(0o555)
	if writable {
		mode = 0o777
	}
	os.Chmod(filepath.Join(queue, list), mode)
	news, _ := filepath.Glob(filepath.Join(queue, list, "*", "new"))
	for _, n := range news {
		os.Chmod(n, mode)
	}
}

// failLists makes a random list fail for 1 to 2 seconds, one after the
// other with pauses between, until stop is closed; then every list
// takes mail again. It returns how many times a list failed.
func failLists(queue string, stop <-chan struct{}) int {
	n := 0
	defer func() {
		for _, l := range lists {
			setList(queue, l, true)
		}
	}()
	for {
		select {
		case <-stop:
			return n
		case <-time.After(time.Duration(500+rand.IntN(1000)) * time.Millisecond):
		}
		l := lists[rand.IntN(len(lists))]
		setList(queue, l, false)
		n++
		select {
		case <-stop:
			return n
		case <-time.After(time.Duration(1000+rand.IntN(1000)) * time.Millisecond):
		}
		setList(queue, l, true)
	}
}

// noDeferred reports whether cur/ holds no deferred message.
func noDeferred(cur string) bool {
	ents, err := os.ReadDir(cur)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ":1,D") {
			return false
		}
	}
	return true
}
