package handoff

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// TestMaildirInUseStaysOpen: a commit closes the destinations no message
// used for a while, and only those. One in steady use whose check by name
// is due stays open, and the check (three lstats) is all it costs; a
// streaming mdsweep that closed every destination at the first commit
// after its check fell due opened each of them again once a second.
func TestMaildirInUseStaysOpen(t *testing.T) {
	dir := t.TempDir()
	mt, dests := listTree(t, dir)
	defer mt.Close()
	queue := mt.Queue
	handOff := func(b string) {
		t.Helper()
		if err := mt.HandOff(context.Background(), claimIn(t, dir, b, "Subject: "+b+"\n\nhello\n"), dests); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	handOff("1700000000.M0P1.test")
	if len(mt.open) != 1 {
		t.Fatalf("%d destinations open after one hand-off, want 1", len(mt.open))
	}
	var m *maildir
	for _, x := range mt.open {
		m = x
	}
	// Trusted for longer than reopenEvery, but just used.
	m.checked = m.checked.Add(-time.Hour)
	if err := mt.Commit(); err != nil {
		t.Fatal(err)
	}
	if mt.open[m.dir] != m {
		t.Fatal("a commit closed a destination in use because its check was due")
	}
	handOff("1700000001.M1P1.test")
	if mt.open[m.dir] != m {
		t.Fatal("the due check reopened a destination that had not changed")
	}
	if time.Since(m.checked) > time.Minute {
		t.Error("the due check did not run before the next message")
	}
	// Now no message uses it for longer than reopenEvery.
	m.used = m.used.Add(-time.Hour)
	if err := mt.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, ok := mt.open[m.dir]; ok {
		t.Error("a commit kept open a destination no message used for an hour")
	}
	for _, b := range []string{"1700000000.M0P1.test", "1700000001.M1P1.test"} {
		if !present(filepath.Join(queue, "mylist", "post", "new", b)) {
			t.Errorf("%s not handed off", b)
		}
	}
}
