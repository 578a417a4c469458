package handoff_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/handoff"
	"mdpipe/internal/intake"
	"mdpipe/internal/testkit"
)

const msgB = "1795893886.Vfe00Ib80b5M516465.vm"

// The set-up helpers of package handoff's tests.
var (
	mkMaildir = handoff.MkMaildir
	claimIn   = handoff.ClaimIn
)

// newTree returns a maildir tree on queue, which it makes, that makes
// lists on first use (mdsweep -C).
func newTree(t *testing.T, queue string) *handoff.MaildirTree {
	t.Helper()
	if err := os.MkdirAll(queue, 0o777); err != nil {
		t.Fatal(err)
	}
	return &handoff.MaildirTree{Queue: queue, Create: true}
}

func body(b string) string {
	return "Delivered-To: mylist@lists.example.test\nSubject: " + b + "\n\nhello\n"
}

func dest(list, sub string) handoff.Dest {
	return handoff.Dest{List: list, Subqueue: sub, Recipient: list + "@lists.example.test"}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// handOffToPost hands c off to mylist/post and commits, as mdsweep does
// for one message, and checks that the claim is then dropped: the
// hand-off is complete only once the queue's directories are synced.
func handOffToPost(t *testing.T, mt *handoff.MaildirTree, c intake.Claim) {
	t.Helper()
	if err := mt.HandOff(context.Background(), c, []handoff.Dest{dest("mylist", "post")}); err != nil {
		t.Fatal(err)
	}
	if err := mt.Commit(); err != nil {
		t.Fatal(err)
	}
	if exists(c.Path) {
		t.Error("claim not dropped")
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func ino(t *testing.T, p string) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// tree lists every path under root (relative, sorted, directories with a
// trailing slash), to show that nothing else was written.
func tree(t *testing.T, root string) []string {
	t.Helper()
	out := []string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			rel += "/"
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// maildirTree lists the three subdirectories of a queue maildir and the
// message B in new/, as tree shows them.
func maildirTree(prefix string, withB bool) []string {
	out := []string{prefix + "/", prefix + "/cur/", prefix + "/new/", prefix + "/tmp/"}
	if withB {
		out = append(out[:3], prefix+"/new/"+msgB, prefix+"/tmp/")
	}
	return out
}

// locked reports whether someone holds flock(LOCK_EX) on path.
func locked(t *testing.T, path string) bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ok, err := fsx.TryLock(f)
	if err != nil {
		t.Fatal(err)
	}
	return !ok
}

// TestMaildirRename hands one message off on the same file system: one
// rename (the same inode) into a queue maildir created on first use.
func TestMaildirRename(t *testing.T) {
	dir := t.TempDir()
	c := claimIn(t, dir, msgB, body(msgB))
	before := ino(t, c.Path)
	queue := filepath.Join(dir, "queue")
	mt := newTree(t, queue)
	if err := mt.HandOff(context.Background(), c, []handoff.Dest{dest("mylist", "post")}); err != nil {
		t.Fatal(err)
	}
	if exists(c.Path) {
		t.Error("claim still there after a rename hand-off")
	}
	if err := mt.Commit(); err != nil {
		t.Fatal(err)
	}
	got := filepath.Join(queue, "mylist", "post", "new", msgB)
	if readFile(t, got) != body(msgB) || ino(t, got) != before {
		t.Errorf("%s is not the claim, renamed", got)
	}
	if d := cmp.Diff(maildirTree("mylist/post", true), tree(t, queue)[1:]); d != "" {
		t.Errorf("queue (-want +got):\n%s", d)
	}
	if err := mt.Close(); err != nil {
		t.Error(err)
	}
}

// TestMaildirCreatedWithUmask checks that queue maildirs are made on first
// use with the umask's permissions, as mdpipe(7) says.
func TestMaildirCreatedWithUmask(t *testing.T) {
	old := syscall.Umask(0o027)
	t.Cleanup(func() { syscall.Umask(old) })
	dir := t.TempDir()
	queue := filepath.Join(dir, "queue")
	mt := newTree(t, queue)
	for i, d := range []handoff.Dest{dest("mylist", "post"), dest("mylist", "bounces"), dest("other", "post")} {
		c := claimIn(t, dir, fmt.Sprintf("%d.M1P1.h", i), "x\n")
		if err := mt.HandOff(context.Background(), c, []handoff.Dest{d}); err != nil {
			t.Fatal(err)
		}
	}
	if err := mt.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"", "mylist", "mylist/post", "mylist/post/new", "mylist/bounces/tmp", "other/post/cur"} {
		fi, err := os.Stat(filepath.Join(queue, sub))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o750 {
			t.Errorf("%s: mode %o, want 750 (0777 &^ umask 027)", sub, got)
		}
	}
	if !exists(filepath.Join(queue, "mylist", "bounces", "new", "1.M1P1.h")) {
		t.Error("second message not in mylist/bounces/new")
	}
}

// TestMaildirSeveralDestinations: one message for several lists is linked
// into each; the claim stays, locked, until Commit made the links durable.
func TestMaildirSeveralDestinations(t *testing.T) {
	dir := t.TempDir()
	c := claimIn(t, dir, msgB, body(msgB))
	before := ino(t, c.Path)
	queue := filepath.Join(dir, "queue")
	mt := newTree(t, queue)
	dests := []handoff.Dest{dest("mylist", "post"), dest("other", "post"), dest("mylist", "post"), dest("mylist", "bounces")}
	if err := mt.HandOff(context.Background(), c, dests); err != nil {
		t.Fatal(err)
	}
	if !exists(c.Path) {
		t.Fatal("claim dropped before Commit")
	}
	if !locked(t, c.Path) {
		t.Error("claim not locked while its hand-off waits for Commit: recovery could return it")
	}
	if err := mt.Commit(); err != nil {
		t.Fatal(err)
	}
	if exists(c.Path) {
		t.Error("claim still there after Commit")
	}
	for _, d := range []string{"mylist/post", "other/post", "mylist/bounces"} {
		p := filepath.Join(queue, d, "new", msgB)
		if readFile(t, p) != body(msgB) || ino(t, p) != before {
			t.Errorf("%s is not a link of the message", p)
		}
	}
	want := append(append(maildirTree("mylist/bounces", true), maildirTree("mylist/post", true)...), maildirTree("other/post", true)...)
	want = append([]string{"mylist/"}, append(want, "other/")...)
	sort.Strings(want)
	if d := cmp.Diff(want, tree(t, queue)); d != "" {
		t.Errorf("queue (-want +got):\n%s", d)
	}
}

// TestMaildirDuplicate: a target that already holds B with the same bytes
// means an earlier hand-off finished (drop the claim); other bytes are
// another message under the same name (permanent, claim kept).
func TestMaildirDuplicate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		there    string // what QUEUE/mylist/post/new/B holds
		dests    []handoff.Dest
		wantPerm bool
	}{
		{"same bytes", body(msgB), []handoff.Dest{dest("mylist", "post")}, false},
		{"same bytes, several destinations", body(msgB), []handoff.Dest{dest("mylist", "post"), dest("other", "post")}, false},
		{"other bytes", "another message\n", []handoff.Dest{dest("mylist", "post")}, true},
		{"same size, other bytes", strings.ToUpper(body(msgB)), []handoff.Dest{dest("mylist", "post")}, true},
		// other/post took it: not parked, or mdclaim -x would deliver
		// it there twice; mylist/post's refusal is logged.
		{"other bytes, several destinations", "another message\n", []handoff.Dest{dest("other", "post"), dest("mylist", "post")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := claimIn(t, dir, msgB, body(msgB))
			queue := filepath.Join(dir, "queue")
			there := filepath.Join(queue, "mylist", "post", "new", msgB)
			mkMaildir(t, filepath.Join(queue, "mylist", "post"))
			if err := os.WriteFile(there, []byte(tc.there), 0o600); err != nil {
				t.Fatal(err)
			}
			mt := newTree(t, queue)
			err := mt.HandOff(context.Background(), c, tc.dests)
			if cerr := mt.Commit(); err == nil {
				err = cerr
			}
			if tc.wantPerm {
				if err == nil || fault.IsTemporary(err) || !strings.Contains(err.Error(), "another message") {
					t.Fatalf("HandOff = %v, want a permanent error", err)
				}
				if readFile(t, c.Path) != body(msgB) {
					t.Error("claim not kept as it was")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				if exists(c.Path) {
					t.Error("claim not dropped")
				}
			}
			if readFile(t, there) != tc.there {
				t.Error("the message already in the queue was changed")
			}
		})
	}
}

// TestMaildirUnsafeNames: LIST and SUBQUEUE are checked again here
// (mdpipe(7), RULES: nothing outside QUEUE); a bad one is permanent, and
// nothing is written.
func TestMaildirUnsafeNames(t *testing.T) {
	for _, d := range []handoff.Dest{
		dest("..", "post"),
		dest("../../etc", "post"),
		dest(".", "post"),
		dest("a/b", "post"),
		dest(".hidden", "post"),
		dest("", "post"),
		dest("MyList", "post"),
		dest("my\x00list", "post"),
		dest(strings.Repeat("a", 65), "post"),
		dest("mylist@../../etc", "post"),
		dest("mylist@a/b", "post"),
		dest("mylist", ".."),
		dest("mylist", "../new"),
		dest("mylist", ""),
		dest("mylist", "new/../../x"),
	} {
		t.Run(fmt.Sprintf("%q/%q", d.List, d.Subqueue), func(t *testing.T) {
			dir := t.TempDir()
			c := claimIn(t, dir, msgB, body(msgB))
			queue := filepath.Join(dir, "queue")
			before := tree(t, dir)
			mt := newTree(t, queue)
			// A good destination first: nothing is placed unless all are good.
			err := mt.HandOff(context.Background(), c, []handoff.Dest{dest("mylist", "post"), d})
			if err == nil || fault.IsTemporary(err) {
				t.Fatalf("HandOff = %v, want a permanent error", err)
			}
			if err := mt.Commit(); err != nil {
				t.Fatal(err)
			}
			if readFile(t, c.Path) != body(msgB) {
				t.Error("claim changed")
			}
			// The good destination may have been created; no message in it.
			for _, p := range tree(t, dir) {
				if strings.HasSuffix(p, msgB) && !strings.HasPrefix(p, "intake/") {
					t.Errorf("message written to %s", p)
				}
				if !strings.HasPrefix(p, "queue/mylist/post") && p != "queue/" && p != "queue/mylist/" && !contains(before, p) {
					t.Errorf("%s created", p)
				}
			}
		})
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// TestMaildirClaimGone: someone else acted first; nothing to do, and
// fault.ErrGone says so.
func TestMaildirClaimGone(t *testing.T) {
	dir := t.TempDir()
	c := claimIn(t, dir, msgB, body(msgB))
	if err := os.Remove(c.Path); err != nil {
		t.Fatal(err)
	}
	mt := newTree(t, filepath.Join(dir, "queue"))
	for _, dests := range [][]handoff.Dest{{dest("mylist", "post")}, {dest("mylist", "post"), dest("other", "post")}} {
		if err := mt.HandOff(context.Background(), c, dests); err != fault.ErrGone {
			t.Errorf("HandOff(gone claim, %d dests) = %v", len(dests), err)
		}
	}
	if err := mt.Commit(); err != nil {
		t.Error(err)
	}
	if exists(filepath.Join(dir, "queue", "mylist", "post", "new", msgB)) {
		t.Error("a gone claim was handed off")
	}
}

// TestMaildirNotRegular: a claim-named symlink is never handed off.
func TestMaildirNotRegular(t *testing.T) {
	dir := t.TempDir()
	c := claimIn(t, dir, msgB, body(msgB))
	if err := os.Rename(c.Path, filepath.Join(dir, "real")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "real"), c.Path); err != nil {
		t.Fatal(err)
	}
	mt := newTree(t, filepath.Join(dir, "queue"))
	err := mt.HandOff(context.Background(), c, []handoff.Dest{dest("mylist", "post")})
	if err == nil || fault.IsTemporary(err) || !errors.Is(err, fsx.ErrNotRegular) {
		t.Errorf("HandOff(symlink) = %v, want permanent ErrNotRegular", err)
	}
	if fi, err := os.Lstat(c.Path); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the symlink was moved")
	}
}

// mountTmpfs mounts a tmpfs of size at a new directory, for the life of
// the test: another file system, as a queue on another disk is.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmpfs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		testkit.SkipMissing(t, "cannot mount a tmpfs for a second file system (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestMaildirCrossDevice hands off into a queue on another file system:
// a copy in new/ (via tmp/), the claim kept locked until Commit, then gone,
// and nothing left in tmp/.
func TestMaildirCrossDevice(t *testing.T) {
	other := mountTmpfs(t, "8m")
	for _, tc := range []struct {
		name  string
		dests []handoff.Dest
	}{
		{"one destination", []handoff.Dest{dest("mylist", "post")}},
		{"several destinations", []handoff.Dest{dest("mylist", "post"), dest("other", "bounces")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			big := body(msgB) + strings.Repeat("0123456789abcdef\n", 20000) // past one copy buffer
			c := claimIn(t, dir, msgB, big)
			queue := filepath.Join(other, strings.ReplaceAll(tc.name, " ", "-"))
			mt := newTree(t, queue)
			if err := mt.HandOff(context.Background(), c, tc.dests); err != nil {
				t.Fatal(err)
			}
			if !exists(c.Path) {
				t.Fatal("claim dropped before the copies were made durable")
			}
			if !locked(t, c.Path) {
				t.Error("claim not locked during a cross-device hand-off")
			}
			if err := mt.Commit(); err != nil {
				t.Fatal(err)
			}
			if exists(c.Path) {
				t.Error("claim still there after Commit")
			}
			for _, d := range tc.dests {
				md := filepath.Join(queue, d.List, d.Subqueue)
				if got := readFile(t, filepath.Join(md, "new", msgB)); got != big {
					t.Errorf("%s/new/B: %d bytes, want the %d of the message", md, len(got), len(big))
				}
				// The copy keeps the claim's mode (claimIn writes 0600).
				if fi, err := os.Stat(filepath.Join(md, "new", msgB)); err != nil || fi.Mode().Perm() != 0o600 {
					t.Errorf("%s/new/B: mode %v (%v), want 0600 as the message", md, fi.Mode().Perm(), err)
				}
				for _, sub := range []string{"tmp", "cur"} {
					if ents, _ := os.ReadDir(filepath.Join(md, sub)); len(ents) != 0 {
						t.Errorf("%s/%s not empty: %v", md, sub, ents)
					}
				}
			}
		})
	}
}

// TestMaildirCrossDeviceDuplicate: across file systems too, a copy of the
// same bytes already in new/ means done before.
func TestMaildirCrossDeviceDuplicate(t *testing.T) {
	other := mountTmpfs(t, "8m")
	dir := t.TempDir()
	c := claimIn(t, dir, msgB, body(msgB))
	md := filepath.Join(other, "mylist", "post")
	mkMaildir(t, md)
	if err := os.WriteFile(filepath.Join(md, "new", msgB), []byte(body(msgB)), 0o600); err != nil {
		t.Fatal(err)
	}
	mt := newTree(t, other)
	handOffToPost(t, mt, c)
	if ents, _ := os.ReadDir(filepath.Join(md, "tmp")); len(ents) != 0 {
		t.Errorf("tmp/ not empty: %v", ents)
	}
}

// TestMaildirDiskFull: a queue whose file system is full is a temporary
// failure: the claim stays, nothing half-written is left in tmp/ or new/.
func TestMaildirDiskFull(t *testing.T) {
	other := mountTmpfs(t, "1m")
	md := filepath.Join(other, "mylist", "post")
	mkMaildir(t, md)
	// Fill the file system.
	fill, err := os.Create(filepath.Join(other, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{'x'}, 64<<10)
	for {
		if _, err := fill.Write(chunk); err != nil {
			if !errors.Is(err, unix.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	fill.Close()

	dir := t.TempDir()
	c := claimIn(t, dir, msgB, body(msgB)+strings.Repeat("y", 256<<10))
	mt := newTree(t, other)
	err = mt.HandOff(context.Background(), c, []handoff.Dest{dest("mylist", "post")})
	if cerr := mt.Commit(); err == nil {
		err = cerr
	}
	if err == nil || !fault.IsTemporary(err) {
		t.Fatalf("HandOff into a full file system = %v, want a temporary error", err)
	}
	if !exists(c.Path) {
		t.Error("claim lost")
	}
	for _, sub := range []string{"tmp", "new"} {
		if ents, _ := os.ReadDir(filepath.Join(md, sub)); len(ents) != 0 {
			t.Errorf("%s/ not empty: %v", sub, ents)
		}
	}
	// Space again: the retry succeeds.
	if err := os.Remove(filepath.Join(other, "fill")); err != nil {
		t.Fatal(err)
	}
	handOffToPost(t, mt, c)
	if !exists(filepath.Join(md, "new", msgB)) {
		t.Error("retry did not hand the message off")
	}
}

// TestMaildirReadOnly: a queue that cannot be written now (read-only
// file system; as root, permission bits are no test) is temporary.
func TestMaildirReadOnly(t *testing.T) {
	dir := t.TempDir()
	rw := filepath.Join(dir, "rw")
	md := filepath.Join(rw, "mylist", "post")
	mkMaildir(t, md)
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(rw, ro, "", unix.MS_BIND, ""); err != nil {
		testkit.SkipMissing(t, "cannot bind-mount a read-only queue (needs root or CAP_SYS_ADMIN): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(ro, unix.MNT_DETACH) })
	if err := unix.Mount("", ro, "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
		testkit.SkipMissing(t, "cannot remount the bind mount read-only: %v", err)
	}
	c := claimIn(t, dir, msgB, body(msgB))
	for _, d := range []handoff.Dest{dest("mylist", "post"), dest("newlist", "post")} {
		mt := &handoff.MaildirTree{Queue: ro, Create: true}
		err := mt.HandOff(context.Background(), c, []handoff.Dest{d})
		if cerr := mt.Commit(); err == nil {
			err = cerr
		}
		if err == nil || !fault.IsTemporary(err) {
			t.Errorf("HandOff(%s) into a read-only queue = %v, want a temporary error", d.List, err)
		}
		if !exists(c.Path) {
			t.Fatal("claim lost")
		}
	}
	if d := cmp.Diff(maildirTree("mylist/post", false), tree(t, rw)[1:]); d != "" {
		t.Errorf("queue changed (-want +got):\n%s", d)
	}
}
