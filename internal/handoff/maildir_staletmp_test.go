package handoff_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"mdpipe/internal/handoff"
)

// TestMaildirCrossDeviceStaleTmp: a crash between the link and the unlink
// of the no-replace rename fallback leaves the queue's tmp/B and new/B as
// one inode; if the list manager then takes new/B (here to cur/), tmp/B is
// still its file. The rerun must unlink tmp/B, not truncate and rewrite
// it under the list manager: the file it took keeps its bytes and its
// modification time.
func TestMaildirCrossDeviceStaleTmp(t *testing.T) {
	other := mountTmpfs(t, "8m")
	c := claimIn(t, t.TempDir(), msgB, body(msgB))
	md := filepath.Join(other, "mylist", "post")
	mkMaildir(t, md)
	taken, tmpB := filepath.Join(md, "cur", msgB+":2,S"), filepath.Join(md, "tmp", msgB)
	if err := os.WriteFile(taken, []byte(body(msgB)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(taken, tmpB); err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(taken, past, past); err != nil {
		t.Fatal(err)
	}
	handOffToPost(t, &handoff.MaildirTree{Queue: other, Create: true}, c)
	fi, err := os.Stat(taken)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.ModTime().Equal(past) {
		t.Errorf("the list manager's file was written again (mtime %v, want %v)", fi.ModTime(), past)
	}
	if got := readFile(t, taken); got != body(msgB) {
		t.Errorf("the list manager's file holds %q, want the message", got)
	}
	if got := readFile(t, filepath.Join(md, "new", msgB)); got != body(msgB) {
		t.Errorf("new/B holds %q, want the message", got)
	}
	if exists(tmpB) {
		t.Error("tmp/B left behind")
	}
}
