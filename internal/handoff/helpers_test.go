package handoff

import (
	"os"
	"path/filepath"
	"testing"

	"mdpipe/internal/intake"
)

// mkMaildir makes dir, and its tmp/, new/ and cur/: a maildir.
func mkMaildir(t testing.TB, dir string) {
	t.Helper()
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// claimIn makes an intake maildir under dir holding one claim, B:1,P, of
// body, mode 0600.
func claimIn(t testing.TB, dir, b, body string) intake.Claim {
	t.Helper()
	md := filepath.Join(dir, "intake")
	mkMaildir(t, md)
	p := filepath.Join(md, "cur", b+intake.ClaimInfo)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := intake.ParseClaim(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// listTree makes QUEUE (dir/queue) holding one list, mylist, and returns
// a MaildirTree on it and the destination of mylist's posts.
func listTree(t testing.TB, dir string) (*MaildirTree, []Dest) {
	t.Helper()
	queue := filepath.Join(dir, "queue")
	if err := os.MkdirAll(filepath.Join(queue, "mylist"), 0o755); err != nil {
		t.Fatal(err)
	}
	return &MaildirTree{Queue: queue},
		[]Dest{{List: "mylist", Subqueue: "post", Recipient: "mylist@lists.example.test"}}
}
