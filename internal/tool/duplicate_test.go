package tool

import (
	"mdpipe/internal/testkit"
	"os"
	"path/filepath"
	"testing"
)

// TestDuplicateHandOff runs the streaming pipeline over messages whose
// queue already holds them under the same name with the same bytes, as
// after a crash between the hand-off and the drop of the claim (mdpipe(7),
// RULES: exactly once): the claim is dropped, the queue keeps one copy, exit 0. One
// message goes to one list (the rename path); one to two lists, one of
// which holds it already (the link path).
func TestDuplicateHandOff(t *testing.T) {
	t.Parallel()
	dir, maildir, queue := emptyIntake(t)
	one := "1795920000.M1P1.dup.example.test"
	two := "1795920001.M2P2.dup.example.test"
	msgs := map[string]string{
		one: "Delivered-To: mylist@lists.example.test\nSubject: handed off before\n\nbody\n",
		two: "Envelope-to: mylist-owner@lists.example.test,\n other@lists.example.test\nSubject: half handed off before\n\nbody\n",
	}
	for b, m := range msgs {
		testkit.WriteFile(t, filepath.Join(maildir, "new", b), m)
	}
	makeLists(t, queue, []delivery{{dests: []string{"other/post"}}})
	for _, there := range []string{"mylist/post/new/" + one, "mylist/owner/new/" + two} {
		path := filepath.Join(queue, there)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		testkit.WriteFile(t, path, msgs[filepath.Base(path)])
	}

	stdout, stderr, st := runStreaming(t, dir, maildir, queue)
	if want := "mdclaim=0 mdroute=0 mdsweep=0 mdfail=0"; st != want {
		t.Errorf("exit statuses %s, want %s", st, want)
	}
	if stdout != "" || stderr != "" {
		t.Errorf("pipeline printed %q and logged %q, want nothing", stdout, stderr)
	}
	// queueTree fails on anything but LIST/SUBQUEUE/new/B, so a second
	// copy (new/B under another name, or left in tmp/) is caught too.
	checkQueue(t, queue, []delivery{
		{file: one, base: one, dests: []string{"mylist/post"}},
		{file: two, base: two, dests: []string{"mylist/owner", "other/post"}},
	})
	checkIntake(t, maildir, nil)
	for _, there := range []string{"mylist/post/new/" + one, "mylist/owner/new/" + two, "other/post/new/" + two} {
		b, err := os.ReadFile(filepath.Join(queue, there))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != msgs[filepath.Base(there)] {
			t.Errorf("%s holds %q, want the message", there, b)
		}
	}
}
