package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"mdpipe/internal/testkit"
)

// A partial hand-off is never delivered twice (mdpipe(7), RULES:
// exactly once). The maildir
// tree links the message into its first list, then its second refuses it
// for good (that list's new/ holds another message under the same name).
// Parking it then let the documented retry, mdclaim -x, deliver it to the
// first list again, once that list's manager had taken it from new/. Now
// the refusal is said, and the claim dropped: the first list has it once.
func TestPartialHandOffNotTwice(t *testing.T) {
	s := newSite(t)
	s.deliver(evilB, "Envelope-to: mylist@lists.example.test, other@lists.example.test\n\nbody\n")
	s.mkdir(filepath.Join(s.queue, "other", "post", "new"))
	squatter := filepath.Join(s.queue, "other", "post", "new", evilB)
	s.write(squatter, "another message under the same name\n")
	s.mark()
	r := s.sh(pipeline)
	r.wantStatus(t, 0, 0, 0, 0)
	r.reason(t, "mdsweep", "handed off to some destinations only, not parked '.*"+evilB+":1,P': .*exists already and holds another message")
	got := filepath.Join(s.queue, "mylist", "post", "new", evilB)
	if _, err := os.Stat(got); err != nil {
		t.Fatalf("first list did not get it: %v", err)
	}
	// mylist's manager takes it; a person retries the failed messages.
	taken := filepath.Join(s.queue, "mylist", "post", "cur", evilB+":2,S")
	if err := os.Rename(got, taken); err != nil {
		t.Fatal(err)
	}
	// Nothing parked: mdclaim -x finds nothing (1), and nothing follows.
	s.sh(`mdclaim -x "$INTAKE" | mdroute | mdsweep -q "$QUEUE" | mdfail`).wantStatus(t, 1, 0, 0, 0)
	if _, err := os.Lstat(got); err == nil {
		t.Errorf("the retry delivered it to mylist a second time")
	}
	if _, err := os.Lstat(filepath.Join(s.intake, "cur", evilB+":1,X")); err == nil {
		t.Errorf("parked although mylist took it")
	}
	if b, _ := os.ReadFile(squatter); !strings.HasPrefix(string(b), "another message") {
		t.Errorf("the message already in other/post was changed")
	}
}

// A copy across file systems keeps the message's mode: a
// 0600 message stays 0600 in the queue, whatever the umask.
func TestCopyKeepsMode(t *testing.T) {
	testkit.NeedRoot(t, "to mount a tmpfs")
	s := newSite(t)
	s.deliver(evilB, okMessage)
	if err := os.Chmod(filepath.Join(s.intake, "new", evilB), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", s.queue, "tmpfs", 0, "size=1m,mode=755"); err != nil {
		testkit.SkipMissing(t, "cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(s.queue, 0); err != nil {
			t.Errorf("unmount %s: %v", s.queue, err)
		}
	})
	s.mkdir(filepath.Join(s.queue, "mylist"))
	s.mark()
	r := s.sh(`umask 022; ` + pipeline)
	r.wantStatus(t, 0, 0, 0, 0)
	fi, err := os.Stat(filepath.Join(s.queue, "mylist", "post", "new", evilB))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("copy has mode %o, want 600 as the message", got)
	}
}
