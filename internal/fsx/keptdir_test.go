package fsx

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKeptDir: a directory is opened once and kept while its path leads
// to it; one moved away and made anew is followed once it is looked up
// again (after KeptFor, or at once after Expire); one no call used for
// KeptFor is closed; a path that is no directory gives -1.
func TestKeptDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cur")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	inode := func(fd int) uint64 {
		t.Helper()
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	var d KeptDir
	defer d.Close()
	now := time.Now()
	fd := d.At(dir, now)
	if fd < 0 || d.Path() != dir {
		t.Fatalf("At(%s) = %d, kept %q", dir, fd, d.Path())
	}
	first := inode(fd)
	if again := d.At(dir, now.Add(KeptFor/2)); again != fd {
		t.Errorf("At opened the directory again (%d, was %d) while it was trusted", again, fd)
	}

	if err := os.Rename(dir, dir+".old"); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := inode(d.At(dir, now.Add(KeptFor/2))); got != first {
		t.Errorf("a trusted directory was looked up again before KeptFor")
	}
	d.Expire()
	if got := inode(d.At(dir, now.Add(KeptFor/2))); got == first {
		t.Errorf("after Expire, At still gives the directory moved away")
	}

	d.Idle(now.Add(KeptFor/2 + KeptFor))
	if d.Path() != "" {
		t.Errorf("a directory unused for KeptFor is still open: %q", d.Path())
	}
	file := filepath.Join(dir, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if fd := d.At(file, now); fd != -1 || d.Path() != "" {
		t.Errorf("At(a file) = %d, kept %q; want -1 and nothing kept", fd, d.Path())
	}
}
