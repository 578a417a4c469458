package intake

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"mdpipe/internal/fault"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// claimed writes the claim B:1,P into a fresh intake maildir.
func claimed(t *testing.T, b string) Claim {
	t.Helper()
	md := newMaildir(t)
	c, err := ParseClaim(put(t, md, "cur/"+b+ClaimInfo))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// openDirFd opens dir for MoveTo and LinkTo, until the test ends.
func openDirFd(t *testing.T, dir string) int {
	t.Helper()
	fd, err := openDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// TestLockOwner checks the owner rule on a claim's lock: one holder at a
// time, and a claim that is gone, or locked, or moved on since its open is
// fault.ErrGone, not waited for.
func TestLockOwner(t *testing.T) {
	c := claimed(t, "1.a")
	f, _, err := c.Lock()
	if err != nil {
		t.Fatal(err)
	}
	if g, _, err := c.Lock(); err != fault.ErrGone {
		g.Close()
		t.Fatalf("second Lock = %v, want fault.ErrGone while the first holds it", err)
	}
	f.Close()
	g, _, err := c.Lock()
	if err != nil {
		t.Fatalf("Lock after the holder closed = %v", err)
	}
	g.Close()
	if _, err := c.Park(""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Lock(); err != fault.ErrGone {
		t.Errorf("Lock of a parked claim = %v, want fault.ErrGone", err)
	}
}

// TestMoveTo checks the one-rename hand-off: B lands in the directory,
// and a B already there is never replaced.
func TestMoveTo(t *testing.T) {
	c := claimed(t, "1.a")
	dest := filepath.Join(t.TempDir(), "new")
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	fd := openDirFd(t, dest)
	put(t, filepath.Dir(dest), "new/1.a")
	if err := c.MoveTo(unix.AT_FDCWD, c.Path, fd); !errors.Is(err, unix.EEXIST) {
		t.Fatalf("MoveTo onto an existing B = %v, want EEXIST", err)
	}
	if _, err := os.Lstat(c.Path); err != nil {
		t.Fatalf("the claim went away although B was there: %v", err)
	}
	if err := os.Remove(filepath.Join(dest, "1.a")); err != nil {
		t.Fatal(err)
	}
	if err := c.MoveTo(unix.AT_FDCWD, c.Path, fd); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{}, ls(t, c.Maildir, "cur")); d != "" {
		t.Errorf("cur/ after MoveTo (-want +got):\n%s", d)
	}
	if err := c.MoveTo(unix.AT_FDCWD, c.Path, fd); !fault.IsGone(err) {
		t.Errorf("MoveTo of a claim handed off already = %v, want gone", err)
	}
}

// TestLinkToDrop checks the hand-off to several directories: a link into
// each, then the claim dropped, once; a second Drop finds nothing to do.
func TestLinkToDrop(t *testing.T) {
	c := claimed(t, "1.a")
	root := t.TempDir()
	for _, d := range []string{"x", "y"} {
		dir := filepath.Join(root, d)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := c.LinkTo(openDirFd(t, dir)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.LinkTo(openDirFd(t, filepath.Join(root, "x"))); err != unix.EEXIST {
		t.Errorf("LinkTo where B is = %v, want EEXIST", err)
	}
	if err := c.Drop(); err != nil {
		t.Fatal(err)
	}
	if err := c.Drop(); err != nil {
		t.Errorf("Drop of a claim gone = %v, want nil", err)
	}
	for _, d := range []string{"x", "y"} {
		if diff := cmp.Diff([]string{"1.a"}, ls(t, root, d)); diff != "" {
			t.Errorf("%s/ (-want +got):\n%s", d, diff)
		}
	}
	if d := cmp.Diff([]string{}, ls(t, c.Maildir, "cur")); d != "" {
		t.Errorf("cur/ after Drop (-want +got):\n%s", d)
	}
}
