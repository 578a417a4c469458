package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// Maildir makes dir and its tmp/, new/ and cur/ with mode perm, as an
// intake or a queue's subqueue stands before the first delivery, and
// returns dir.
func Maildir(t testing.TB, dir string, perm os.FileMode) string {
	t.Helper()
	for _, d := range []string{dir, filepath.Join(dir, "tmp"), filepath.Join(dir, "new"), filepath.Join(dir, "cur")} {
		Mkdir(t, d, perm)
	}
	return dir
}

// Deliver puts content into maildir's new/ under name the way an MTA
// does, written in tmp/ and renamed into new/, and returns its path in
// new/.
func Deliver(t testing.TB, maildir, name, content string) string {
	t.Helper()
	tmp, dst := filepath.Join(maildir, "tmp", name), filepath.Join(maildir, "new", name)
	WriteFile(t, tmp, content)
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// OpenTempDir returns a new 0755 directory under the system's temporary
// directory, removed when the test ends: unlike t.TempDir, whose parents
// are 0700, an MTA or the pipeline's user can reach it. Call it before
// starting what runs in it, so that the removal comes after those stop.
func OpenTempDir(t testing.TB, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	Mkdir(t, dir, 0o755)
	return dir
}
