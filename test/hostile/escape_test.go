package hostile

import (
	"os"
	"path/filepath"
	"testing"
)

// Nothing escapes QUEUE (mdpipe(7), RULES: nothing outside QUEUE). A symbolic link planted below QUEUE
// (for the list, its subqueue, or the subqueue's new/ or tmp/) is never
// followed: the message is parked with a line that names the link, nothing
// lands outside QUEUE, and mail for the other lists flows.
func TestSymlinkBelowQueue(t *testing.T) {
	for _, tc := range []struct {
		name string
		link string // below QUEUE, pointing at $ROOT/outside
		made []string
	}{
		{"list", "mylist", nil},
		{"subqueue", "mylist/post", nil},
		{"new", "mylist/post/new", []string{"mylist/post/tmp", "mylist/post/cur"}},
		{"tmp", "mylist/post/tmp", []string{"mylist/post/new", "mylist/post/cur"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			outside := filepath.Join(s.root, "outside")
			for _, d := range []string{"", "tmp", "new", "cur", "post/tmp", "post/new", "post/cur"} {
				s.mkdir(filepath.Join(outside, d))
			}
			link := filepath.Join(s.queue, tc.link)
			os.RemoveAll(link)
			for _, d := range tc.made {
				s.mkdir(filepath.Join(s.queue, d))
			}
			if err := os.Symlink(outside, link); err != nil {
				t.Fatal(err)
			}
			s.deliver(evilB, okMessage)
			ok := s.deliver("1700000000.M1P1Q1.other", "Delivered-To: other@lists.example.test\n\nbody\n")
			s.mark()
			t.Cleanup(func() { os.Remove(link) }) // before the queue check
			r := s.sh(pipeline)
			r.wantStatus(t, 0, 0, 100, 0)
			r.reason(t, "mdsweep", "cannot hand off '.*"+evilB+":1,P': '"+link+"' is a symbolic link: refused")
			s.wantAt(evilB, "X")
			s.wantAt(ok, "other/post")
			filepath.WalkDir(outside, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					t.Errorf("written outside the queue: %s", p)
				}
				return nil
			})
		})
	}
}

// QUEUE itself may be a symbolic link: only what lies below it may not.
func TestQueueItselfSymlink(t *testing.T) {
	s := newSite(t)
	s.deliver(evilB, okMessage)
	link := filepath.Join(s.root, "queue-link")
	if err := os.Symlink(s.queue, link); err != nil {
		t.Fatal(err)
	}
	s.mark()
	r := s.sh(`mdclaim "$INTAKE" | mdroute | mdsweep -q "$ROOT/queue-link" | mdfail`)
	r.wantStatus(t, 0, 0, 0, 0)
	s.wantAt(evilB, "mylist/post")
}

// A typo never makes a queue. A mistyped QUEUE is one line
// and exit 111, and nothing is made; mail for a list whose directory does
// not exist is parked (no such list), and nothing is made either. With
// -C, the list's directory is made on its first message.
func TestTypoMakesNoQueue(t *testing.T) {
	s := newSite(t)
	s.deliver(evilB, "Delivered-To: typo-lsit@lists.example.test\n\nbody\n")
	ok := s.control()
	s.mark()
	r := s.sh(`mdclaim "$INTAKE" | mdroute | mdsweep -C -q "$QUEUE.typo/deeper" | mdfail`)
	// mdsweep exits at start: mdroute may find no reader left (111).
	r.wantStatus(t, -1, -1, 111, 0)
	r.reason(t, "mdsweep", "no queue '"+s.queue+".typo/deeper': no such file or directory")
	if _, err := os.Lstat(s.queue + ".typo"); err == nil {
		t.Errorf("%s.typo made", s.queue)
	}
	// mdroute gives back what mdsweep never read, unless it ended
	// before mdsweep did: then mdclaim -r below returns them.
	for _, b := range []string{evilB, ok} {
		if got := s.where(b); got != "claimed" && got != "new" {
			t.Errorf("message %s is %s, want claimed or new", b, got)
		}
	}

	r = s.sh(`mdclaim -r 1ms "$INTAKE" | mdroute | mdsweep -q "$QUEUE" | mdfail`)
	r.wantStatus(t, 0, 0, 100, 0)
	r.reason(t, "mdsweep", "cannot hand off '.*"+evilB+":1,P': no such list '"+s.queue+"/typo-lsit'")
	s.wantAt(evilB, "X")
	s.wantAt(ok, "mylist/post")
	if _, err := os.Lstat(filepath.Join(s.queue, "typo-lsit")); err == nil {
		t.Error("a queue was made for the typo")
	}

	r = s.sh(`mdclaim -x "$INTAKE" | mdroute | MDSWEEP_CREATE=1 mdsweep -q "$QUEUE" | mdfail`)
	r.wantStatus(t, 0, 0, 0, 0)
	s.wantAt(evilB, "typo-lsit/post")
}
