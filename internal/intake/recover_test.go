package intake

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"mdpipe/internal/fsx"
)

// waitOlder waits until path's ctime is at least d in the past. Claim age
// is measured from the ctime the claiming rename set, which a test cannot
// set back, so it lets the time pass.
func waitOlder(t *testing.T, path string, d time.Duration) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		t.Fatal(err)
	}
	ctime := time.Unix(st.Ctim.Unix())
	for time.Since(ctime) < d {
		time.Sleep(10 * time.Millisecond)
	}
}

// holdLock takes the lock on path that a hand-off holds while it works,
// until the returned file is closed (or the test ends).
func holdLock(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if ok, err := fsx.TryLock(f); !ok || err != nil {
		t.Fatalf("TryLock = %v, %v", ok, err)
	}
	return f
}

func TestRecover(t *testing.T) {
	bothRenames(t, func(t *testing.T) {
		md := newMaildir(t)
		old := put(t, md, "cur/1.old:1,P")
		locked := put(t, md, "cur/2.locked:1,P")
		put(t, md, "cur/3.parked:1,X")
		put(t, md, "cur/4.read:2,S")
		put(t, md, "cur/.5.dot:1,P")

		// A hand-off in progress holds the claim's lock.
		f := holdLock(t, locked)

		const age = 200 * time.Millisecond
		waitOlder(t, old, age)
		waitOlder(t, locked, age)
		young := put(t, md, "cur/6.young:1,P")

		type move struct{ Claim, Back string }
		var got []move
		err := Recover(md, age, func(claim, back string) { got = append(got, move{claim, back}) }, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []move{{old, filepath.Join(md, "new", "1.old")}}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("returned (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"1.old"}, ls(t, md, "new")); d != "" {
			t.Errorf("new/ (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{".5.dot:1,P", "2.locked:1,P", "3.parked:1,X", "4.read:2,S", "6.young:1,P"}, ls(t, md, "cur")); d != "" {
			t.Errorf("cur/ (-want +got):\n%s", d)
		}
		if b, err := os.ReadFile(filepath.Join(md, "new", "1.old")); err != nil || string(b) != "Subject: 1.old:1,P\n\nbody\n" {
			t.Errorf("returned message holds %q, %v", b, err)
		}

		// Once the lock is let go and the young claim has aged, both return.
		f.Close()
		waitOlder(t, young, age)
		got = nil
		if err := Recover(md, age, func(claim, back string) { got = append(got, move{claim, back}) }, nil); err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Errorf("second recovery returned %v, want the unlocked and the aged claim", got)
		}
		if d := cmp.Diff([]string{"1.old", "2.locked", "6.young"}, ls(t, md, "new")); d != "" {
			t.Errorf("new/ (-want +got):\n%s", d)
		}
	})
}

// TestRecoverNewExists leaves a claim whose B is in new/ again (someone
// put a copy back by hand): never overwrite.
func TestRecoverNewExists(t *testing.T) {
	md := newMaildir(t)
	p := put(t, md, "cur/1.a:1,P")
	put(t, md, "new/1.a")
	waitOlder(t, p, 50*time.Millisecond)
	err := Recover(md, 50*time.Millisecond, func(claim, back string) { t.Errorf("returned %s", claim) }, nil)
	if err == nil {
		t.Error("Recover = nil, want an error naming the clash")
	}
	if d := cmp.Diff([]string{"1.a:1,P"}, ls(t, md, "cur")); d != "" {
		t.Errorf("cur/ (-want +got):\n%s", d)
	}
}

func TestRecoverMissingMaildir(t *testing.T) {
	if err := Recover(filepath.Join(t.TempDir(), "nosuch"), time.Second, nil, nil); err == nil {
		t.Error("Recover(missing) = nil")
	}
}

// TestGiveBack returns a claim to new/ at once, whatever its age, but
// never one a hand-off holds the lock of, and says which went back.
func TestGiveBack(t *testing.T) {
	bothRenames(t, func(t *testing.T) {
		md := newMaildir(t)
		free := put(t, md, "cur/1.free:1,P")
		locked := put(t, md, "cur/2.locked:1,P")
		f := holdLock(t, locked)
		for _, c := range []struct {
			path string
			back bool
		}{
			{free, true},
			{locked, false},
			{free, false}, // gone now: no error
		} {
			back, err := giveBack(c.path)
			if back != c.back || err != nil {
				t.Errorf("GiveBack(%s) = %v, %v, want %v, nil", c.path, back, err, c.back)
			}
		}
		if d := cmp.Diff([]string{"1.free"}, ls(t, md, "new")); d != "" {
			t.Errorf("new/ (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"2.locked:1,P"}, ls(t, md, "cur")); d != "" {
			t.Errorf("cur/ (-want +got):\n%s", d)
		}
		// new/ holds B again (put back by hand): never overwritten.
		put(t, md, "new/2.locked")
		f.Close()
		if back, err := giveBack(locked); back || err == nil {
			t.Errorf("GiveBack onto an existing new/B = %v, %v, want false and an error", back, err)
		}
	})
}

// TestRecoverNamesWhatItSkips: a claim recovery cannot open is never
// passed over in silence; one a live process holds is.
func TestRecoverNamesWhatItSkips(t *testing.T) {
	md := newMaildir(t)
	fifo := filepath.Join(md, "cur", "1.fifo:1,P")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	locked := put(t, md, "cur/2.locked:1,P")
	f := holdLock(t, locked)
	defer f.Close()
	waitOlder(t, locked, 50*time.Millisecond)
	var skipped []string
	err := Recover(md, 50*time.Millisecond, func(claim, back string) { t.Errorf("returned %s", claim) },
		func(claim string, why error) { skipped = append(skipped, claim+": "+why.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || !strings.HasPrefix(skipped[0], fifo+": ") || !strings.Contains(skipped[0], "FIFO") {
		t.Errorf("skipped %q, want the FIFO alone, named with why", skipped)
	}
}
