package fsx

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// EACCES is the file's own only when the file can still be reached: as
// root no open is ever refused, so the errors are made up, and the
// lstat that tells the cases apart is real.
func TestDeniedByFile(t *testing.T) {
	dir := t.TempDir()
	msg := filepath.Join(dir, "msg")
	if err := os.WriteFile(msg, []byte("x"), 0); err != nil {
		t.Fatal(err)
	}
	denied := func(p string) error { return &os.PathError{Op: "open", Path: p, Err: unix.EACCES} }
	for _, tc := range []struct {
		name       string
		path       string
		err        error
		unreadable bool
	}{
		{"the file refuses", msg, denied(msg), true},
		{"a directory on the way refuses", filepath.Join(dir, "gone"), denied(filepath.Join(dir, "gone")), false},
		{"not EACCES", msg, &os.PathError{Op: "open", Path: msg, Err: unix.EIO}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := DeniedByFile(tc.path, tc.err)
			if errors.Is(got, ErrUnreadable) != tc.unreadable {
				t.Errorf("DeniedByFile = %v, want ErrUnreadable: %v", got, tc.unreadable)
			}
			if !tc.unreadable && got != tc.err {
				t.Errorf("DeniedByFile = %v, want the error unchanged: %v", got, tc.err)
			}
			if tc.unreadable && !errors.Is(got, unix.EACCES) {
				t.Errorf("DeniedByFile = %v, want it to wrap EACCES still", got)
			}
		})
	}
}
