package intake

import (
	"fmt"
	"reflect"
	"testing"
	"time"
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

func testDoneIndex(t *testing.T, perRead bool) {
	md := newMaildir(t)
	claim := func(name string) Claim {
		c, err := ParseClaim(put(t, md, "cur/"+name+ClaimInfo))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	took := []Dest{{List: "b", Subqueue: "post", Recipient: "b@lists.example.test"}}
	// deferBack defers c with took as done, and claims it back, as
	// mdsweep and mdclaim do.
	deferBack := func(c Claim) {
		t.Helper()
		if err := c.Defer(time.Now(), "451 try later", took); err != nil {
			t.Fatal(err)
		}
		if _, n, err := ClaimDue(md, time.Now().Add(time.Second), 0, func(string) {}); err != nil || n != 1 {
			t.Fatalf("ClaimDue: %d, %v", n, err)
		}
	}
	before := claim("0.before")
	deferBack(before)

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
	check(before, took, true) // the index starts here, and finds it in cur/
	for i := range 100 {
		check(claim(fmt.Sprintf("2.plain%03d", i)), nil, false)
	}
	later := claim("3.later")
	deferBack(later)
	check(later, took, true)
	if err := later.Forget(); err != nil {
		t.Fatal(err)
	}
	check(later, nil, false)
	// The first, the two with a list, and the one forgotten.
	if x.Asked != 4 {
		t.Errorf("asked the file system %d times for 104 look-ups, want 4", x.Asked)
	}
}
