package intake

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// A deferral keeps the message as cur/B:1,D with its next try as mtime,
// and which destinations took it, read back by the claim made of it
// when it is due, and only then.
func TestDeferAndClaimDue(t *testing.T) {
	bothRenames(t, func(t *testing.T) {
		md := newMaildir(t)
		c, err := ParseClaim(put(t, md, "cur/1.a"+ClaimInfo))
		if err != nil {
			t.Fatal(err)
		}
		done := []Dest{{List: "b", Subqueue: "post", Recipient: "b@lists.example.test"}}
		next := time.Now().Add(time.Hour)
		if err := c.Defer(next, "command exited 111\nsecond line", done); err != nil {
			t.Fatal(err)
		}
		if got := ls(t, md, "cur"); !reflect.DeepEqual(got, []string{".1.a.done", ".1.a.why", "1.a" + DeferInfo}) {
			t.Fatalf("cur/ holds %v, want the deferred message and its two dot-files", got)
		}
		var st os.FileInfo
		if st, err = os.Stat(c.DeferPath()); err != nil || !st.ModTime().Equal(next) {
			t.Errorf("mtime %v, want the next try %v", st.ModTime(), next)
		}
		why, err := os.ReadFile(filepath.Join(md, "cur", ".1.a.why"))
		if err != nil || string(why) != "command exited 111 second line\n" {
			t.Errorf("kept reason %q, %v", why, err)
		}

		var got []string
		emit := func(p string) { got = append(got, p) }
		at, n, err := ClaimDue(md, time.Now(), 0, emit)
		if err != nil || n != 0 || !at.Equal(next) {
			t.Fatalf("ClaimDue before the next try: %d claimed, next %v, %v; want 0, %v", n, at, err, next)
		}
		at, n, err = ClaimDue(md, next, 0, emit)
		if err != nil || n != 1 || !at.IsZero() || len(got) != 1 || got[0] != c.Path {
			t.Fatalf("ClaimDue at the next try: %d claimed %v, next %v, %v", n, got, at, err)
		}
		back, deferred, err := c.ReadDone()
		if err != nil || !deferred || !reflect.DeepEqual(back, done) {
			t.Errorf("ReadDone: %v, %v, %v; want %v", back, deferred, err, done)
		}
		if err := c.Forget(); err != nil {
			t.Fatal(err)
		}
		if got := ls(t, md, "cur"); !reflect.DeepEqual(got, []string{"1.a" + ClaimInfo}) {
			t.Errorf("after Forget, cur/ holds %v, want the claim alone", got)
		}
	})
}

// A deferred message is no claim: recovery leaves it where it is.
func TestRecoverLeavesDeferred(t *testing.T) {
	md := newMaildir(t)
	c, err := ParseClaim(put(t, md, "cur/1.a"+ClaimInfo))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Defer(time.Now().Add(-time.Hour), "x", nil); err != nil {
		t.Fatal(err)
	}
	if err := Recover(md, 0, func(string, string) { t.Error("recovery returned a deferred message") },
		func(c string, why error) { t.Errorf("recovery named %s: %v", c, why) }); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.DeferPath()); err != nil {
		t.Error(err)
	}
}
