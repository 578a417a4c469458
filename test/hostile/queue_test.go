package hostile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// A queue that cannot be written is a temporary failure
// (mdpipe(7), RULES: temporary or permanent):
// mdsweep retries, then with -t gives up with 111, and the message stays
// claimed for mdclaim -r; never parked.
func TestQueueNotWritable(t *testing.T) {
	s := newSite(t)
	s.deliver(evilB, okMessage)
	as := s.nobody()
	// Every directory of the queue, not the queue alone: a user may
	// write into a directory of its own under a read-only one, and the
	// tools run as the test's user when it is not root.
	s.readOnly(s.queue, filepath.Join(s.queue, "mylist"), filepath.Join(s.queue, "other"))
	// The unprivileged mdsweep may take the claim but not move it.
	s.mark()
	claimed := s.sh(`mdclaim "$INTAKE" | mdroute >"$ROOT/../records"`)
	claimed.wantStatus(t, 0, 0)
	start := time.Now()
	r := s.sh(`$AS mdsweep -t 2s -q "$QUEUE" <"$ROOT/../records" | mdfail`, as...)
	r.wantStatus(t, 111, 0)
	r.reason(t, "mdsweep", "retrying in 1s '.*"+evilB+":1,P'.*permission denied")
	r.reason(t, "mdsweep", "giving up on '.*"+evilB+":1,P'.*permission denied")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %v, want about 2s", d)
	}
	s.wantAt(evilB, "claimed")
}

// A queue on a full file system (a small tmpfs, so the hand-off is also
// the copy across file systems): temporary, the message stays claimed,
// and no partial copy is left in the queue.
func TestQueueFull(t *testing.T) {
	testkit.NeedRoot(t, "to mount a tmpfs")
	s := newSite(t)
	s.deliver(evilB, okMessage+strings.Repeat("a full disk\n", 2000))
	if err := syscall.Mount("tmpfs", s.queue, "tmpfs", 0, "size=256k,mode=755"); err != nil {
		testkit.SkipMissing(t, "cannot mount a tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(s.queue, 0); err != nil {
			t.Errorf("unmount %s: %v", s.queue, err)
		}
	})
	dir := filepath.Join(s.queue, "mylist", "post")
	for _, d := range []string{"tmp", "new", "cur"} {
		s.mkdir(filepath.Join(dir, d))
	}
	fill(t, filepath.Join(s.queue, "filler"))
	s.mark()
	r := s.sh(pipeline)
	r.wantStatus(t, 0, 0, 111, 0)
	r.reason(t, "mdsweep", "giving up on '.*"+evilB+":1,P'.*no space left")
	s.wantAt(evilB, "claimed")
	for _, d := range []string{"tmp", "new"} {
		if ents, _ := os.ReadDir(filepath.Join(dir, d)); len(ents) > 0 {
			t.Errorf("left in the full queue's %s/: %s", d, ents[0].Name())
		}
	}
	// Room again: the next run (after recovery) hands it off.
	os.Remove(filepath.Join(s.queue, "filler"))
	r = s.sh(`mdclaim -r 1ms "$INTAKE" | mdroute | mdsweep -q "$QUEUE" | mdfail`)
	r.wantStatus(t, 0, 0, 0, 0)
	s.wantAt(evilB, "mylist/post")
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for {
		if _, err := f.Write(buf); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// A claim that someone else deletes or moves on while it is in the
// pipeline (a second runner, a person) is skipped: quietly by mdroute
// (mdpipe(7), RULES: the owner rule), with one line by mdsweep, which is never silent about
// a record whose claim is not there (a lost split once looked like that).
func TestClaimGoneMidPipeline(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after string // the stage after which it goes
		act   func(s *site, claim string) error
		where string
	}{
		{"deleted-after-mdclaim", "claim", func(_ *site, c string) error { return os.Remove(c) }, ""},
		{"deleted-after-mdroute", "route", func(_ *site, c string) error { return os.Remove(c) }, ""},
		{"parked-after-mdclaim", "claim", func(_ *site, c string) error {
			return os.Rename(c, strings.TrimSuffix(c, ":1,P")+":1,X")
		}, "X"},
		{"returned-after-mdroute", "route", func(s *site, c string) error {
			return os.Rename(c, filepath.Join(s.intake, "new", evilB))
		}, "new"},
		{"handed-off-after-mdroute", "route", func(s *site, c string) error {
			// A second runner handed it off first.
			d := filepath.Join(s.queue, "mylist", "post")
			for _, sub := range []string{"tmp", "new", "cur"} {
				s.mkdir(filepath.Join(d, sub))
			}
			return os.Rename(c, filepath.Join(d, "new", evilB))
		}, "mylist/post"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			ok := s.control()
			s.deliver(evilB, okMessage)
			s.mark()
			recs := filepath.Join(t.TempDir(), "records")
			claim := filepath.Join(s.intake, "cur", evilB+":1,P")
			var r result
			if tc.after == "claim" {
				s.sh(`mdclaim "$INTAKE" >`+recs).wantStatus(t, 0)
				if err := tc.act(s, claim); err != nil {
					t.Fatal(err)
				}
				r = s.sh(`mdroute <` + recs + ` | mdsweep -q "$QUEUE" | mdfail`)
			} else {
				s.sh(`mdclaim "$INTAKE" | mdroute >`+recs).wantStatus(t, 0, 0)
				if err := tc.act(s, claim); err != nil {
					t.Fatal(err)
				}
				r = s.sh(`mdsweep -q "$QUEUE" <` + recs + ` | mdfail`)
			}
			for _, st := range r.status {
				if st != 0 {
					t.Errorf("exit statuses %v, want all 0", r.status)
				}
			}
			if tc.after == "route" {
				r.reason(t, "mdsweep", "no such claim '.*"+evilB+":1,P'")
				if n := strings.Count(r.stderr, "\n"); n != 1 {
					t.Errorf("%d lines, want 1:\n%s", n, r.stderr)
				}
			} else if r.stderr != "" {
				t.Errorf("not quiet:\n%s", r.stderr)
			}
			s.wantAt(ok, "mylist/post")
			if tc.where == "" {
				// Deleted: the tools must not bring it back anywhere.
				filepath.WalkDir(s.root, func(p string, d os.DirEntry, err error) error {
					if err == nil && strings.HasPrefix(d.Name(), evilB) {
						t.Errorf("deleted claim came back as %s", p)
					}
					return nil
				})
				return
			}
			s.wantAt(evilB, tc.where)
		})
	}
}

// The same claim twice in mdsweep's input, apart (recovery returned it
// to new/ while it was still in this pipeline's pipes, and it was claimed
// again): the second is skipped. A hand-off to two lists, or across file
// systems, holds the claim's lock until its batch commits; waiting for
// that lock deadlocked mdsweep on itself, deaf to SIGTERM.
func TestDuplicateRecords(t *testing.T) {
	s := newSite(t)
	s.deliver(evilB, okMessage)
	ok := s.control()
	s.mark()
	recs := filepath.Join(t.TempDir(), "records")
	s.sh(`mdclaim "$INTAKE" >`+recs).wantStatus(t, 0)
	claims, err := os.ReadFile(recs)
	if err != nil {
		t.Fatal(err)
	}
	evil := filepath.Join(s.intake, "cur", evilB+":1,P")
	two := evil + "\tmylist\tpost\tmylist@lists.example.test\t1/2\n" + evil + "\tother\tbounces\tother-bounces@lists.example.test\t2/2\n"
	var in strings.Builder
	in.WriteString(two)
	for _, c := range strings.Fields(string(claims)) {
		if c != evil {
			in.WriteString(c + "\tmylist\tpost\tmylist@lists.example.test\t1/1\n")
		}
	}
	in.WriteString(two)
	s.write(recs, in.String())
	s.sweepQuietly(recs, 10*time.Second)
	for _, d := range []string{"mylist/post", "other/bounces"} {
		if _, err := os.Stat(filepath.Join(s.queue, d, "new", evilB)); err != nil {
			t.Errorf("not in %s: %v", d, err)
		}
	}
	if _, err := os.Lstat(evil); err == nil {
		t.Errorf("claim %s left", evil)
	}
	s.wantAt(ok, "mylist/post")
}

// A claim another process holds the lock of (a hand-off in progress in
// another pipeline) is that process's: mdsweep skips it at once, quietly,
// instead of waiting for as long as that hand-off takes.
func TestClaimLockedByAnother(t *testing.T) {
	s := newSite(t)
	s.deliver(evilB, okMessage)
	s.mark()
	s.sh(`mdclaim "$INTAKE"`).wantStatus(t, 0)
	evil := filepath.Join(s.intake, "cur", evilB+":1,P")
	f, err := os.Open(evil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	recs := filepath.Join(t.TempDir(), "records")
	s.write(recs, evil+"\tmylist\tpost\tm@x\n"+evil+"\tother\tpost\to@x\n")
	s.sweepQuietly(recs, 5*time.Second)
	s.wantAt(evilB, "claimed")
}

// sweepQuietly runs mdsweep -q | mdfail on the records in file recs, and
// wants both to exit 0 within the given time, with nothing to say.
func (s *site) sweepQuietly(recs string, within time.Duration) {
	s.t.Helper()
	start := time.Now()
	r := s.sh(`timeout -s KILL 20 mdsweep -q "$QUEUE" <` + recs + ` | mdfail`)
	r.wantStatus(s.t, 0, 0)
	if d := time.Since(start); d > within {
		s.t.Errorf("mdsweep took %v, want at most %v (it waited on a claim's lock)", d, within)
	}
	if r.stderr != "" {
		s.t.Errorf("not quiet:\n%s", r.stderr)
	}
}
