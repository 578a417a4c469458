package watch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestHeld checks that a claim stops being held when its name leaves
// cur/ in each way a stage moves it on: renamed into a queue, renamed to
// B:1,X in cur/ itself, unlinked; and that a name of another runner's
// changes nothing. With inotify, and with look-ups in its place.
func TestHeld(t *testing.T) {
	for _, lookUp := range []bool{false, true} {
		cur := filepath.Join(t.TempDir(), "cur")
		queue := filepath.Join(filepath.Dir(cur), "queue")
		for _, d := range []string{cur, queue} {
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		h, err := NewHeld(cur)
		if err != nil {
			t.Fatal(err)
		}
		defer h.Close()
		if lookUp {
			unix.Close(h.fd)
			h.fd = -1
		}
		for _, n := range []string{"a:1,P", "b:1,P", "c:1,P", "other:1,P"} {
			if err := os.WriteFile(filepath.Join(cur, n), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range []string{"a:1,P", "b:1,P", "c:1,P"} {
			h.Add(n)
		}
		steps := []func() error{
			func() error { return os.Remove(filepath.Join(cur, "other:1,P")) },
			func() error { return os.Rename(filepath.Join(cur, "a:1,P"), filepath.Join(queue, "a")) },
			func() error { return os.Rename(filepath.Join(cur, "b:1,P"), filepath.Join(cur, "b:1,X")) },
			func() error { return os.Remove(filepath.Join(cur, "c:1,P")) },
		}
		want := []int{3, 2, 1, 0}
		for i, step := range steps {
			if err := step(); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				// Another runner's claim: no wake-up for us.
				if h.Wait(context.Background(), 2, 0, -1); h.Len() != 3 {
					t.Fatalf("look-up %v: %d held after another's claim left, want 3", lookUp, h.Len())
				}
				continue
			}
			if h.Wait(context.Background(), want[i], time.Minute, -1) {
				t.Fatal("downstream gone, with no downstream")
			}
			if h.Len() != want[i] {
				t.Errorf("look-up %v, step %d: %d held, want %d", lookUp, i, h.Len(), want[i])
			}
		}
	}
}
