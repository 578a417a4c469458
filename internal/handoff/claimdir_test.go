package handoff

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"mdpipe/internal/intake"
)

// TestClaimDirFollowsIntake: mdsweep keeps the intake's cur/ open for
// its hand-offs, and follows the intake by name. An intake moved away
// and made anew (an admin rebuilding it) is, at once, the one the next
// claim is taken from; claims of the one moved away that are still in
// the input are gone, as their paths say. An idle mdsweep closes the
// directory.
func TestClaimDirFollowsIntake(t *testing.T) {
	dir := t.TempDir()
	mt, dests := listTree(t, dir)
	defer mt.Close()
	queue, md := mt.Queue, filepath.Join(dir, "intake")
	claim := func(b string) intake.Claim { return claimIn(t, dir, b, "Subject: "+b+"\n\nhello\n") }
	first := claim("1700000000.M0P1.test")
	if err := mt.HandOff(context.Background(), first, dests); err != nil {
		t.Fatal(err)
	}
	if mt.claims.Path() != first.Cur {
		t.Fatalf("claim directory kept: %q, want %q", mt.claims.Path(), first.Cur)
	}
	left := claim("1700000001.M1P1.test") // claimed, not yet handed off

	// The intake is moved away and made anew; an hour passes.
	if err := os.Rename(md, md+".old"); err != nil {
		t.Fatal(err)
	}
	mkMaildir(t, md)
	next := claim("1700003600.M2P1.test")
	if err := mt.HandOff(context.Background(), next, dests); err != nil {
		t.Fatalf("claim in the intake made anew: %v", err)
	}
	if !present(filepath.Join(queue, "mylist", "post", "new", "1700003600.M2P1.test")) {
		t.Error("the claim in the intake made anew was not handed off")
	}
	if err := mt.HandOff(context.Background(), left, dests); err == nil {
		t.Error("a claim whose path no longer leads to it was handed off")
	}
	if !present(filepath.Join(md+".old", "cur", "1700000001.M1P1.test"+intake.ClaimInfo)) {
		t.Error("the claim left in the intake moved away is not there")
	}

	// No claim for a while: the next commit closes the directory.
	mt.claims.Expire()
	if err := mt.Commit(); err != nil {
		t.Fatal(err)
	}
	if mt.claims.Path() != "" {
		t.Errorf("an idle mdsweep still holds %s open", mt.claims.Path())
	}
}
