package intake

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// The index answers as ReadDone does: for a message never deferred, one
// deferred before the index started, and one deferred (by another
// runner) while it runs; and it asks the file system only for the first
// message and those with a list of destinations. Without Reads, and with
// it (then it takes in what changed once a read of the input).
func TestDoneIndex(t *testing.T) {
	for _, perRead := range []bool{false, true} {
		t.Run(fmt.Sprintf("per read %v", perRead), func(t *testing.T) { testDoneIndex(t, perRead) })
	}
}

// tookB is the destination the tests' deferred messages took.
var tookB = []Dest{{List: "b", Subqueue: "post", Recipient: "b@lists.example.test"}}

// claimNamed makes the claim cur/NAME:1,P in md.
func claimNamed(t *testing.T, md, name string) Claim {
	t.Helper()
	c, err := ParseClaim(put(t, md, "cur/"+name+ClaimInfo))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// deferBack defers c with tookB as done, and claims it back, as mdsweep
// and mdclaim do.
func deferBack(t *testing.T, md string, c Claim) {
	t.Helper()
	if err := c.Defer(time.Now(), "451 try later", tookB); err != nil {
		t.Fatal(err)
	}
	if _, n, err := ClaimDue(md, time.Now().Add(time.Second), 0, func(string) {}); err != nil || n != 1 {
		t.Fatalf("ClaimDue: %d, %v", n, err)
	}
}

func testDoneIndex(t *testing.T, perRead bool) {
	md := newMaildir(t)
	claim := func(name string) Claim { return claimNamed(t, md, name) }
	before := claim("0.before")
	deferBack(t, md, before)

	var x DoneIndex
	defer x.Close()
	reads := 0
	if perRead {
		x.Reads = func() int { return reads }
	}
	check := func(c Claim, want []Dest, wantDeferred bool) {
		t.Helper()
		reads++ // its record came in a read of its own
		done, deferred, err := x.ReadDone(c)
		if err != nil || deferred != wantDeferred || !reflect.DeepEqual(done, want) {
			t.Errorf("%s: %v, %v, %v; want %v, %v", c.Base, done, deferred, err, want, wantDeferred)
		}
	}
	check(claim("1.first"), nil, false)
	check(before, tookB, true) // the index starts here, and finds it in cur/
	for i := range 100 {
		check(claim(fmt.Sprintf("2.plain%03d", i)), nil, false)
	}
	later := claim("3.later")
	deferBack(t, md, later)
	check(later, tookB, true)
	if err := later.Forget(); err != nil {
		t.Fatal(err)
	}
	check(later, nil, false)
	// The first, the two with a list, and the one forgotten.
	if x.Asked != 4 {
		t.Errorf("asked the file system %d times for 104 look-ups, want 4", x.Asked)
	}
}

// After Unwatch the index asks the file system for every message, and
// so still finds a list of destinations written after it; Close then
// releases every descriptor the index opened.
func TestDoneIndexUnwatch(t *testing.T) {
	md := newMaildir(t)
	fds := testkit.OpenFds(t)
	var x DoneIndex
	for _, name := range []string{"1.first", "2.second"} {
		if _, _, err := x.ReadDone(claimNamed(t, md, name)); err != nil {
			t.Fatal(err)
		}
	}
	if x.Asked != 1 {
		t.Fatalf("asked the file system %d times before Unwatch, want 1 (the index runs from the second)", x.Asked)
	}
	x.Unwatch()
	later := claimNamed(t, md, "3.later")
	deferBack(t, md, later)
	done, deferred, err := x.ReadDone(later)
	if err != nil || !deferred || !reflect.DeepEqual(done, tookB) {
		t.Errorf("after Unwatch: %v, %v, %v; want %v, true", done, deferred, err, tookB)
	}
	if x.Asked != 2 {
		t.Errorf("asked the file system %d times, want 2 (the first, and the one after Unwatch)", x.Asked)
	}
	x.Close()
	if after := testkit.OpenFds(t); after != fds {
		t.Errorf("%d descriptors open after Close, %d before the index", after, fds)
	}
}
