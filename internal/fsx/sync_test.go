package fsx

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestDirSyncRestsUntilCommit: the background syncer rests between
// fsyncs, each rest as long as the fsync before it; a Commit ends the
// rest in hand at once, and no rest follows while it waits.
func TestDirSyncRestsUntilCommit(t *testing.T) {
	root := t.TempDir()
	var d DirSync
	entered := make(chan time.Duration, 10)
	d.restHook = func(took time.Duration, hurry <-chan struct{}) {
		entered <- took
		<-hurry // only a Commit ends this rest
	}
	for i := range 5 {
		dir := filepath.Join(root, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		d.Mark(dir)
	}
	d.Kick()
	select {
	case took := <-entered:
		if took <= 0 {
			t.Errorf("rest after an fsync that took %v", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the syncer did not rest after its first fsync")
	}
	done := make(chan error, 1)
	go func() { done <- d.Commit() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Commit: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Commit did not end the syncer's rest")
	}
	if n := len(entered); n != 0 {
		t.Errorf("the syncer rested %d more times while a Commit waited", n)
	}
	// The next run of the syncer rests again.
	d.Mark(root)
	d.Mark(filepath.Join(root, "0"))
	d.Kick()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the syncer did not rest in its next run")
	}
	if err := d.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

// TestFsyncRaw: the raw fsync reports what fsync(2) reports.
func TestFsyncRaw(t *testing.T) {
	dir := t.TempDir()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := fsyncRaw(fd); err != nil {
		t.Errorf("fsync of %s: %v", dir, err)
	}
	unix.Close(fd)
	if err := fsyncRaw(fd); err != unix.EBADF {
		t.Errorf("fsync of a closed descriptor: %v, want EBADF", err)
	}
}
