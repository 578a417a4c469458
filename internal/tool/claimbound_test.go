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

// TestRoomRefill checks a refill under the bound: it begins once a
// quarter of the bound is free, runs on to the bound a quarter at a time
// (each written before the next is claimed), and between refills nothing
// is claimed.
func TestRoomRefill(t *testing.T) {
	for _, c := range []struct {
		bound int
		steps [][2]int // claims held, and the room mdclaim has then
	}{
		{64, [][2]int{
			{0, 16}, {16, 16}, {32, 16}, {60, 4}, {64, 0},
			// At the bound: nothing until a quarter is free.
			{63, 0}, {49, 0}, {48, 16},
			// The refill goes on, a quarter at a time, even where a
			// refill could not begin.
			{55, 9}, {62, 2}, {64, 0}, {50, 0},
		}},
		{8, [][2]int{{0, 2}, {7, 1}, {8, 0}, {7, 0}, {6, 2}, {8, 0}}},
		// Below four, a quarter is one claim.
		{1, [][2]int{{0, 1}, {1, 0}, {0, 1}}},
		{3, [][2]int{{3, 0}, {2, 1}, {3, 0}, {1, 1}, {2, 1}}},
	} {
		m := &claimer{bound: c.bound}
		for i, s := range c.steps {
			if got := m.room(s[0]); got != s[1] {
				t.Errorf("-k %d, step %d: %d held, room %d, want %d", c.bound, i, s[0], got, s[1])
			}
		}
	}
}
