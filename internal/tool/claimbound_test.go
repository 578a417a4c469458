package tool

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mdpipe/internal/watch"
)

// TestAtBoundQuarter checks the batches of a bounded mdclaim: it claims
// nothing while fewer than a quarter of the bound is free, so that one
// or two claims done do not each bring a claim, a write and a wake-up of
// every stage after it; once a quarter is free it claims again.
func TestAtBoundQuarter(t *testing.T) {
	for _, c := range []struct {
		bound, held, gone int
		full              bool
	}{
		{bound: 8, held: 8, gone: 0, full: true},
		{bound: 8, held: 8, gone: 1, full: true},
		{bound: 8, held: 8, gone: 2, full: false},
		{bound: 8, held: 5, gone: 0, full: false},
		{bound: 64, held: 64, gone: 15, full: true},
		{bound: 64, held: 64, gone: 16, full: false},
		// A bound below four: a claim done is room enough.
		{bound: 1, held: 1, gone: 0, full: true},
		{bound: 1, held: 1, gone: 1, full: false},
		{bound: 3, held: 3, gone: 1, full: false},
	} {
		cur := filepath.Join(t.TempDir(), "cur")
		if err := os.Mkdir(cur, 0o700); err != nil {
			t.Fatal(err)
		}
		held, err := watch.NewHeld(cur)
		if err != nil {
			t.Fatal(err)
		}
		for i := range c.held {
			name := fmt.Sprintf("%d.x:1,P", i)
			if err := os.WriteFile(filepath.Join(cur, name), nil, 0o600); err != nil {
				t.Fatal(err)
			}
			held.Add(name)
		}
		for i := range c.gone {
			if err := os.Remove(filepath.Join(cur, fmt.Sprintf("%d.x:1,P", i))); err != nil {
				t.Fatal(err)
			}
		}
		m := &claimer{held: held, bound: c.bound}
		if got := m.atBound(); got != c.full {
			t.Errorf("-k %d, %d held, %d done: atBound %v, want %v", c.bound, c.held, c.gone, got, c.full)
		}
		held.Close()
	}
}
