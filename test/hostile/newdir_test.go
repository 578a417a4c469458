// Package hostile feeds the mdpipe tools what a hostile or broken world
// can put in their way (issue 4), and checks each time that the tools
// give a one-line reason, park or leave the message but never lose it,
// and write nothing outside the queue.
package hostile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"mdpipe/internal/testkit"
)

// Only regular files move (DESIGN rule 4): anything else in new/ is left
// where it is, with a reason, and the real messages go on.

func TestSymlinkInNew(t *testing.T) {
	s := newSite(t)
	ok := s.control()
	secret := filepath.Join(s.root, "etc", "passwd")
	evil := filepath.Join(s.intake, "new", "1700000001.M1P1Q2.symlink")
	if err := os.Symlink(secret, evil); err != nil {
		t.Fatal(err)
	}
	s.mark()
	r := s.sh(pipeline)
	r.wantStatus(t, 0, 0, 0, 0)
	r.reason(t, "mdclaim", "skipping '"+evil+"': .*symlink")
	s.wantAt(ok, "mylist/post")
	if fi, err := os.Lstat(evil); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was not left in new/: %v", err)
	}
	if b, err := os.ReadFile(secret); err != nil || string(b) != "root:x:0:0::/root:/bin/sh\n" {
		t.Errorf("the symlink's target changed: %q, %v", b, err)
	}
}

func TestFIFOInNew(t *testing.T) {
	s := newSite(t)
	ok := s.control()
	fifo := filepath.Join(s.intake, "new", "1700000001.M1P1Q2.fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	s.mark()
	r := s.sh(pipeline) // a tool that opened the FIFO would hang until the minute's timeout
	r.wantStatus(t, 0, 0, 0, 0)
	r.reason(t, "mdclaim", "skipping '"+fifo+"': .*FIFO")
	s.wantAt(ok, "mylist/post")
	if fi, err := os.Lstat(fifo); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO was not left in new/: %v", err)
	}
}

func TestDirectoryInNew(t *testing.T) {
	s := newSite(t)
	ok := s.control()
	dir := filepath.Join(s.intake, "new", "1700000001.M1P1Q2.dir")
	s.mkdir(dir)
	s.write(filepath.Join(dir, "inside"), okMessage)
	s.mark()
	r := s.sh(pipeline)
	r.wantStatus(t, 0, 0, 0, 0)
	r.reason(t, "mdclaim", "skipping '"+dir+"': .*directory")
	s.wantAt(ok, "mylist/post")
	if _, err := os.Stat(filepath.Join(dir, "inside")); err != nil {
		t.Errorf("the directory was not left in new/: %v", err)
	}
}

func TestDeviceInNew(t *testing.T) {
	if os.Geteuid() != 0 {
		testkit.SkipMissing(t, "needs root, to mknod a device")
	}
	s := newSite(t)
	ok := s.control()
	dev := filepath.Join(s.intake, "new", "1700000001.M1P1Q2.dev")
	// A character device 1,3 is /dev/null: reading it would hand off
	// an empty message, writing it would lose one.
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
		testkit.SkipMissing(t, "mknod: %v", err)
	}
	s.mark()
	r := s.sh(pipeline)
	r.wantStatus(t, 0, 0, 0, 0)
	r.reason(t, "mdclaim", "skipping '"+dev+"': .*device")
	s.wantAt(ok, "mylist/post")
	if fi, err := os.Lstat(dev); err != nil || fi.Mode()&os.ModeDevice == 0 {
		t.Errorf("the device was not left in new/: %v", err)
	}
}

// The intake maildir is missing, or its new/ cannot be read: a temporary
// failure (exit 111) with a reason, and nothing is created in its place.

func TestIntakeMissing(t *testing.T) {
	s := newSite(t)
	s.intake = filepath.Join(s.root, "no-such-maildir")
	s.mark()
	r := s.sh(pipeline)
	r.wantStatus(t, 111, 0, 0, 0)
	r.reason(t, "mdclaim", "cannot read .*no-such-maildir/new.*no such file")
	if _, err := os.Lstat(s.intake); err == nil {
		t.Errorf("%s was created", s.intake)
	}
}

func TestIntakeNewUnreadable(t *testing.T) {
	s := newSite(t)
	ok := s.control()
	as := s.nobody()
	if err := os.Chmod(filepath.Join(s.intake, "new"), 0o300); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(s.intake, "new"), 0o755) })
	s.mark()
	r := s.sh(`$AS mdclaim "$INTAKE"`, as...)
	r.wantStatus(t, 111)
	r.reason(t, "mdclaim", "cannot read .*/new.*permission denied")
	s.wantAt(ok, "new")
}
