package main

import (
	"path/filepath"
	"testing"
)

// TestFloor checks that both floors do the whole job the rows time: every
// message claimed and renamed into its LIST/SUBQUEUE/new/, nothing left
// in the intake. The durable floor commits in batches, so the intake is
// more than one batch and not a multiple of it.
func TestFloor(t *testing.T) {
	msgs := newGenerator(seed).messages(2*syncBatch + 17)
	for _, durable := range []bool{false, true} {
		dir := t.TempDir()
		intake, queue := filepath.Join(dir, "intake"), filepath.Join(dir, "queue")
		if err := writeIntake(intake, msgs); err != nil {
			t.Fatal(err)
		}
		if err := makeQueues(queue, lists()); err != nil {
			t.Fatal(err)
		}
		if err := floor(intake, queue, durable); err != nil {
			t.Fatalf("durable %v: %v", durable, err)
		}
		if err := verify(intake, queue, "new", want(msgs)); err != nil {
			t.Errorf("durable %v: %v", durable, err)
		}
	}
}
