package handoff_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/fault"
	"mdpipe/internal/handoff"
)

// A list exists when its directory does: without Create, mail for any
// other list is a permanent "no such list", and nothing is made. QUEUE
// is never made, even with Create.
func TestMaildirNoSuchList(t *testing.T) {
	dir := t.TempDir()
	queue := filepath.Join(dir, "queue")
	mt := &handoff.MaildirTree{Queue: queue}
	if err := mt.Check(); err == nil {
		t.Fatal("Check passed on a missing queue")
	}
	c := claimIn(t, dir, msgB, body(msgB))
	create := &handoff.MaildirTree{Queue: queue, Create: true}
	err := create.HandOff(context.Background(), c, []handoff.Dest{dest("mylist", "post")})
	if err == nil || !fault.IsTemporary(err) {
		t.Fatalf("HandOff into a missing queue = %v, want a temporary error", err)
	}
	if exists(queue) {
		t.Fatal("queue made")
	}

	if err := os.Mkdir(queue, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := mt.Check(); err != nil {
		t.Fatal(err)
	}
	err = mt.HandOff(context.Background(), c, []handoff.Dest{dest("typo-lsit", "post")})
	if err == nil || fault.IsTemporary(err) || !errors.Is(err, handoff.ErrNoSuchList) {
		t.Fatalf("HandOff to a list with no directory = %v, want a permanent no such list", err)
	}
	if exists(filepath.Join(queue, "typo-lsit")) || !exists(c.Path) {
		t.Fatal("a directory made for the typo, or the claim gone")
	}

	if err := create.HandOff(context.Background(), c, []handoff.Dest{dest("newlist", "post")}); err != nil {
		t.Fatal(err)
	}
	if !exists(filepath.Join(queue, "newlist", "post", "new", msgB)) {
		t.Error("Create did not make the list")
	}
}

// A claim that does not exist makes no queue directory.
func TestMaildirGoneClaimMakesNothing(t *testing.T) {
	dir := t.TempDir()
	queue := filepath.Join(dir, "queue")
	mt := newTree(t, queue)
	c := claimIn(t, dir, msgB, body(msgB))
	os.Remove(c.Path)
	if err := mt.HandOff(context.Background(), c, []handoff.Dest{dest("mylist", "post"), dest("other", "post")}); err != fault.ErrGone {
		t.Fatalf("HandOff(gone claim) = %v, want fault.ErrGone", err)
	}
	if ents, _ := os.ReadDir(queue); len(ents) != 0 {
		t.Errorf("queue holds %v for a claim that is not there", ents)
	}
}

// No symbolic link below QUEUE is followed; QUEUE itself may be one.
func TestMaildirSymlinks(t *testing.T) {
	for _, link := range []string{"mylist", "mylist/post", "mylist/post/new", "mylist/post/tmp", "mylist/post/cur"} {
		t.Run(link, func(t *testing.T) {
			dir := t.TempDir()
			real := filepath.Join(dir, "real")
			queue := filepath.Join(dir, "queue")
			newTree(t, real)
			if err := os.Symlink(real, queue); err != nil {
				t.Fatal(err)
			}
			outside := filepath.Join(dir, "outside")
			handoff.MkMaildir(t, outside)
			l := filepath.Join(real, link)
			if err := os.MkdirAll(filepath.Dir(l), 0o777); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(outside, l); err != nil {
				t.Fatal(err)
			}
			mt := &handoff.MaildirTree{Queue: queue, Create: true}
			c := claimIn(t, dir, msgB, body(msgB))
			err := mt.HandOff(context.Background(), c, []handoff.Dest{dest("mylist", "post")})
			if err == nil || fault.IsTemporary(err) || !strings.Contains(err.Error(), "is a symbolic link: refused") {
				t.Fatalf("HandOff = %v, want a permanent refusal of the link", err)
			}
			if !strings.Contains(err.Error(), filepath.Join(queue, link)) {
				t.Errorf("%v does not name the link", err)
			}
			// Through the link QUEUE, the other list is fine.
			c2 := claimIn(t, dir, "2"+msgB, body(msgB))
			if err := mt.HandOff(context.Background(), c2, []handoff.Dest{dest("other", "post")}); err != nil {
				t.Fatal(err)
			}
			if err := mt.Close(); err != nil {
				t.Fatal(err)
			}
			if !exists(filepath.Join(real, "other", "post", "new", "2"+msgB)) {
				t.Error("not handed off through a QUEUE that is a link")
			}
			filepath.WalkDir(outside, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					t.Errorf("written through the link: %s", p)
				}
				return nil
			})
		})
	}
}

// A destination removed while the tree holds it open (within a batch): a
// removed SUBQUEUE is made again, a removed LIST is no such list (made
// again with Create), on the rename path and on the link path alike.
func TestMaildirRemovedUnderUs(t *testing.T) {
	for _, create := range []bool{false, true} {
		for _, two := range []bool{false, true} {
			dir := t.TempDir()
			queue := filepath.Join(dir, "queue")
			mt := newTree(t, queue)
			mt.Create = create
			for _, l := range []string{"mylist", "other"} {
				if err := os.Mkdir(filepath.Join(queue, l), 0o777); err != nil {
					t.Fatal(err)
				}
			}
			dests := []handoff.Dest{dest("mylist", "post")}
			if two {
				dests = append(dests, dest("other", "post"))
			}
			n := 0
			hand := func() (string, error) {
				n++
				b := string(rune('a'+n)) + msgB
				c := claimIn(t, dir, b, body(b))
				// No Commit in between: the maildirs stay open, and the
				// removal is noticed by the rename or link into them.
				return b, mt.HandOff(context.Background(), c, dests)
			}
			if _, err := hand(); err != nil {
				t.Fatal(err)
			}
			os.RemoveAll(filepath.Join(queue, "mylist", "post"))
			b, err := hand()
			if err != nil {
				t.Fatalf("create %v two %v: after the subqueue went: %v", create, two, err)
			}
			if !exists(filepath.Join(queue, "mylist", "post", "new", b)) {
				t.Errorf("create %v two %v: subqueue not made again", create, two)
			}
			os.RemoveAll(filepath.Join(queue, "mylist"))
			b, err = hand()
			switch {
			case create:
				if err != nil || !exists(filepath.Join(queue, "mylist", "post", "new", b)) {
					t.Errorf("create %v two %v: after the list went: %v", create, two, err)
				}
			case two:
				// other took it: not parked, only said.
				if err != nil || !exists(filepath.Join(queue, "other", "post", "new", b)) {
					t.Errorf("create %v two %v: after the list went: %v", create, two, err)
				}
			default:
				if !errors.Is(err, handoff.ErrNoSuchList) || fault.IsTemporary(err) {
					t.Errorf("create %v two %v: after the list went: %v, want no such list", create, two, err)
				}
			}
			if !create && exists(filepath.Join(queue, "mylist")) {
				t.Errorf("create %v two %v: the removed list was made again", create, two)
			}
			if err := mt.Close(); err != nil {
				t.Errorf("create %v two %v: %v", create, two, err)
			}
		}
	}
}
