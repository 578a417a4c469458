package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/fsx"
	"mdpipe/internal/reason"
	"mdpipe/internal/testkit"

	"golang.org/x/sys/unix"
)

func newMaildir(t testing.TB) string {
	t.Helper()
	return testkit.Maildir(t, t.TempDir(), 0o700)
}

func put(t testing.TB, path string) {
	t.Helper()
	if err := os.WriteFile(path, []byte("Subject: x\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// hold takes the lock a hand-off takes on a claim, from a descriptor of
// its own, and keeps it until the test ends.
func hold(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
}

func needLocks(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(locksFile); err != nil {
		testkit.SkipMissing(t, "no %s, the kernel's table of locks that mdq reads: %v", locksFile, err)
	}
}

func TestScanStates(t *testing.T) {
	needLocks(t)
	m := newMaildir(t)
	put(t, filepath.Join(m, "new", "1.new"))
	put(t, filepath.Join(m, "cur", "2.held:1,P"))
	put(t, filepath.Join(m, "cur", "3.free:1,P"))
	put(t, filepath.Join(m, "cur", "4.parked:1,X"))
	put(t, filepath.Join(m, "cur", "5.bare:1,X"))
	put(t, filepath.Join(m, "cur", "6.other:2,S"))               // not an intake state
	put(t, filepath.Join(m, "new", ".dot"))                      // no message
	os.Symlink("/etc/passwd", filepath.Join(m, "new", "7.link")) // regular files only
	if err := reason.Write(filepath.Join(m, "cur"), "4.parked", "no such list"); err != nil {
		t.Fatal(err)
	}
	hold(t, filepath.Join(m, "cur", "2.held:1,P"))
	back := time.Now().Add(-time.Hour)
	os.Chtimes(filepath.Join(m, "new", "1.new"), back, back)

	scan := func(strandedAfter time.Duration) map[string]Message {
		got := map[string]Message{}
		err := Scan(m, Options{StrandedAfter: strandedAfter}, func(msg Message) { got[filepath.Base(msg.Path)] = msg })
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	got := scan(0)
	want := map[string]State{"1.new": New, "2.held:1,P": Claimed, "3.free:1,P": Stranded, "4.parked:1,X": Parked, "5.bare:1,X": Parked}
	if len(got) != len(want) {
		t.Errorf("scan found %d messages, want %d: %v", len(got), len(want), got)
	}
	for name, s := range want {
		if got[name].State != s {
			t.Errorf("%s: state %v, want %v", name, got[name].State, s)
		}
	}
	if r := got["4.parked:1,X"].Reason; r != "no such list" {
		t.Errorf("reason %q, want the one kept", r)
	}
	if r := got["5.bare:1,X"].Reason; r != "" {
		t.Errorf("reason %q, want none", r)
	}
	if a := got["1.new"].Age; a < 59*time.Minute || a > 61*time.Minute {
		t.Errorf("age %v, want an hour", a)
	}
	// Claimed a moment ago and held by nobody: on its way, not stranded.
	if s := scan(time.Hour)["3.free:1,P"].State; s != Claimed {
		t.Errorf("a fresh claim nobody holds: %v, want claimed", s)
	}
	if err := Scan(t.TempDir(), Options{}, func(Message) {}); !errors.Is(err, ErrNoMaildir) {
		t.Errorf("Scan of no maildir: %v", err)
	}
}

func TestRequeueDrop(t *testing.T) {
	needLocks(t)
	m := newMaildir(t)
	cur := filepath.Join(m, "cur")
	put(t, filepath.Join(cur, "1.x:1,X"))
	put(t, filepath.Join(cur, "2.held:1,P"))
	put(t, filepath.Join(cur, "3.free:1,P"))
	put(t, filepath.Join(cur, "4.x:1,X"))
	put(t, filepath.Join(m, "new", "5.new"))
	reason.Write(cur, "1.x", "no such list")
	reason.Write(cur, "4.x", "command exited 100")
	hold(t, filepath.Join(cur, "2.held:1,P"))
	var dirs fsx.DirSync

	to, err := Requeue(filepath.Join(cur, "1.x:1,X"), 0, &dirs)
	if err != nil || to != filepath.Join(m, "new", "1.x") {
		t.Errorf("Requeue = %q, %v", to, err)
	}
	if _, err := os.Lstat(reason.Path(cur, "1.x")); !os.IsNotExist(err) {
		t.Errorf("the reason outlived the requeue: %v", err)
	}
	if _, err := Requeue(filepath.Join(cur, "2.held:1,P"), 0, &dirs); !errors.Is(err, ErrHeld) {
		t.Errorf("Requeue of a held claim: %v, want ErrHeld", err)
	}
	if _, err := Drop(filepath.Join(cur, "2.held:1,P"), 0, &dirs); !errors.Is(err, ErrHeld) {
		t.Errorf("Drop of a held claim: %v, want ErrHeld", err)
	}
	if _, err := os.Lstat(filepath.Join(cur, "2.held:1,P")); err != nil {
		t.Errorf("the held claim moved: %v", err)
	}
	if _, err := Requeue(filepath.Join(cur, "3.free:1,P"), time.Hour, &dirs); !errors.Is(err, ErrYoung) {
		t.Errorf("Requeue of a claim made just now: %v, want ErrYoung", err)
	}
	if to, err := Requeue(filepath.Join(cur, "3.free:1,P"), 0, &dirs); err != nil || to != filepath.Join(m, "new", "3.free") {
		t.Errorf("Requeue of a stranded claim = %q, %v", to, err)
	}
	if _, err := Requeue(filepath.Join(m, "new", "5.new"), 0, &dirs); !errors.Is(err, ErrIsNew) {
		t.Errorf("Requeue of a new message: %v", err)
	}
	for _, p := range []string{filepath.Join(cur, "6.y:2,S"), filepath.Join(cur, ".4.x.why"), filepath.Join(m, "tmp", "7.z")} {
		if _, err := Drop(p, 0, &dirs); !errors.Is(err, ErrNotMessage) {
			t.Errorf("Drop(%s): %v, want ErrNotMessage", p, err)
		}
	}
	to, err = Drop(filepath.Join(cur, "4.x:1,X"), 0, &dirs)
	trash := filepath.Join(m, TrashFolder)
	if err != nil || to != filepath.Join(trash, "cur", "4.x:1,X") {
		t.Fatalf("Drop = %q, %v", to, err)
	}
	if r, _ := reason.Read(filepath.Join(trash, "cur"), "4.x"); r != "command exited 100" {
		t.Errorf("the reason did not move with the message: %q", r)
	}
	for _, p := range []string{"tmp", "new", "maildirfolder"} {
		if _, err := os.Lstat(filepath.Join(trash, p)); err != nil {
			t.Errorf("the trash is no Maildir++ folder: %v", err)
		}
	}
	// Never over a message there already.
	put(t, filepath.Join(cur, "4.x:1,X"))
	if _, err := Drop(filepath.Join(cur, "4.x:1,X"), 0, &dirs); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("Drop over a trashed message: %v", err)
	}
	if err := dirs.Commit(); err != nil {
		t.Fatal(err)
	}
}

func TestHeldLocksParse(t *testing.T) {
	f := filepath.Join(t.TempDir(), "locks")
	os.WriteFile(f, []byte("1: FLOCK  ADVISORY  WRITE 8543 fe:00:9985156 0 EOF\n"+
		"1: -> FLOCK  ADVISORY  WRITE 8544 fe:00:77 0 EOF\n"+
		"2: POSIX  ADVISORY  WRITE 8550 08:01:42 0 EOF\n"+
		"3: FLOCK  ADVISORY  WRITE 0 103:0a:12 0 EOF\n"), 0o600)
	was := locksFile
	locksFile = f
	defer func() { locksFile = was }()
	held, err := heldLocks()
	if err != nil {
		t.Fatal(err)
	}
	want := map[devIno]bool{{unix.Mkdev(0xfe, 0), 9985156}: true, {unix.Mkdev(0x103, 0x0a), 12}: true}
	if fmt.Sprint(held) != fmt.Sprint(want) {
		t.Errorf("heldLocks = %v, want %v", held, want)
	}
}

func TestWriteMetricsLabels(t *testing.T) {
	var b strings.Builder
	var tally Tally
	tally.Add(Message{State: New, Age: 90 * time.Second})
	if err := WriteMetrics(&b, &tally, []Queue{{List: `a"b\c`, Waiting: 3}}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"mdpipe_messages{state=\"new\"} 1\n",
		"mdpipe_oldest_seconds{state=\"new\"} 90\n",
		"mdpipe_messages{state=\"deferred\"} 0\n",
		`mdpipe_queue_messages{list="a\"b\\c"} 3` + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

// BenchmarkScan100k scans an intake of 100,000 messages: 90,000 new, and
// 10,000 parked with their reasons, as the summary of mdq reads them.
func BenchmarkScan100k(b *testing.B) {
	m := newMaildir(b)
	for i := range 100_000 {
		name := fmt.Sprintf("17%08d.M%dP1.bench", i, i)
		if i%10 == 0 {
			put(b, filepath.Join(m, "cur", name+":1,X"))
			// As reason.Write leaves it, without its fsync.
			os.WriteFile(reason.Path(filepath.Join(m, "cur"), name), []byte("no such list\n"), 0o640)
			continue
		}
		put(b, filepath.Join(m, "new", name))
	}
	b.ResetTimer()
	for b.Loop() {
		var tally Tally
		if err := Scan(m, Options{StrandedAfter: time.Minute}, tally.Add); err != nil {
			b.Fatal(err)
		}
		if tally.Count[New] != 90_000 || tally.Count[Parked] != 10_000 {
			b.Fatalf("counted %v", tally.Count)
		}
	}
}

// A deferred message shows as deferred, with its next try (its mtime),
// its last error and its age by the delivery time of its name; -R sends
// it to new/ at once, keeping which destinations took it.
func TestDeferredShownAndRequeued(t *testing.T) {
	m := newMaildir(t)
	cur := filepath.Join(m, "cur")
	delivered := time.Now().Add(-time.Hour).Unix()
	b := fmt.Sprintf("%d.M1P1.x", delivered)
	put(t, filepath.Join(cur, b+":1,D"))
	next := time.Now().Add(30 * time.Second).Truncate(time.Second)
	os.Chtimes(filepath.Join(cur, b+":1,D"), next, next)
	if err := reason.Write(cur, b, "command exited 111"); err != nil {
		t.Fatal(err)
	}
	put(t, filepath.Join(cur, "."+b+".done"))
	var got []Message
	if err := Scan(m, Options{}, func(msg Message) { got = append(got, msg) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].State != Deferred || !got[0].Next.Equal(next) || got[0].Reason != "command exited 111" ||
		got[0].Age < 59*time.Minute || got[0].Age > 61*time.Minute {
		t.Fatalf("got %+v, want one deferred message, next try %v, its reason, an hour old", got, next)
	}
	var line strings.Builder
	WriteListed(&line, got[0], Details{List: "-", Recipient: "-"}, false)
	if !strings.Contains(line.String(), "\tdeferred\t") || !strings.Contains(line.String(), "next try in ") {
		t.Errorf("mdq -l line %q", line.String())
	}
	to, err := Requeue(got[0].Path, time.Minute, &fsx.DirSync{})
	if err != nil || to != filepath.Join(m, "new", b) {
		t.Fatalf("Requeue: %q, %v", to, err)
	}
	if _, err := os.Stat(filepath.Join(cur, "."+b+".done")); err != nil {
		t.Errorf("requeue dropped which destinations took it: %v", err)
	}
	if _, err := os.Stat(reason.Path(cur, b)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("requeue kept the reason: %v", err)
	}
}
