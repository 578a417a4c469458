package handoff

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mdpipe/internal/fault"
)

// TestMaildirMovedWhileIdle moves a list's directory away while mdsweep
// sits idle between messages, and makes a new one under its name, as an
// admin renaming or rebuilding a list does: the next message goes into
// the new one, which the list manager reads, not into the one moved away.
func TestMaildirMovedWhileIdle(t *testing.T) {
	dir := t.TempDir()
	mt, dests := listTree(t, dir)
	queue := mt.Queue
	handOff := func(b string) {
		t.Helper()
		if err := mt.HandOff(context.Background(), claimIn(t, dir, b, "Subject: "+b+"\n\nhello\n"), dests); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
	}
	// Two messages, each followed by a pause of the input, at which
	// mdsweep commits; then it waits for more.
	for _, b := range []string{"1700000000.M0P1.test", "1700000000.M1P1.test"} {
		handOff(b)
		if err := mt.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// An hour passes (the open directories were trusted that long)...
	for _, m := range mt.open {
		m.checked = m.checked.Add(-time.Hour)
	}
	// ...in which the admin moves the list away and makes it anew.
	if err := os.Rename(filepath.Join(queue, "mylist"), filepath.Join(queue, "mylist.old")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(queue, "mylist"), 0o755); err != nil {
		t.Fatal(err)
	}
	handOff("1700003600.M2P1.test")
	if err := mt.Close(); err != nil {
		t.Fatal(err)
	}
	if !present(filepath.Join(queue, "mylist", "post", "new", "1700003600.M2P1.test")) {
		t.Errorf("the message after the move is not in the list's new directory; moved-away copy there: %v",
			present(filepath.Join(queue, "mylist.old", "post", "new", "1700003600.M2P1.test")))
	}
	if !present(filepath.Join(queue, "mylist.old", "post", "new", "1700000000.M1P1.test")) {
		t.Error("the message before the move did not move with its directory")
	}
}

// TestMaildirLinkedBack moves a list's directory out of QUEUE while
// mdsweep has it open, and puts a symbolic link to it in its place: the
// directory is the same one, but it is outside QUEUE now, and the next
// message must not go there (mdpipe(7), RULES: nothing outside QUEUE).
func TestMaildirLinkedBack(t *testing.T) {
	dir := t.TempDir()
	mt, dests := listTree(t, dir)
	queue := mt.Queue
	handOff := func(b string) error {
		return mt.HandOff(context.Background(), claimIn(t, dir, b, "Subject: "+b+"\n\nhello\n"), dests)
	}
	if err := handOff("1700000000.M0P1.test"); err != nil {
		t.Fatal(err)
	}
	for _, m := range mt.open {
		m.checked = m.checked.Add(-time.Hour)
	}
	outside := filepath.Join(dir, "outside")
	if err := os.Rename(filepath.Join(queue, "mylist"), outside); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(queue, "mylist")); err != nil {
		t.Fatal(err)
	}
	err := handOff("1700003600.M1P1.test")
	if err == nil || fault.IsTemporary(err) {
		t.Errorf("hand-off through a symbolic link to outside QUEUE: %v, want refused for good", err)
	}
	if present(filepath.Join(outside, "post", "new", "1700003600.M1P1.test")) {
		t.Error("the message went outside QUEUE")
	}
	mt.Close()
}
