package main

import (
	"path/filepath"
	"testing"
)

// TestFloor checks that the floors do the whole job the rows time: every
// message claimed and renamed into its LIST/SUBQUEUE/new/, nothing left
// in the intake. The durable floor commits in batches, so the intake is
// more than one batch and not a multiple of it, and more than the split
// floor's splitBound claims in flight.
func TestFloor(t *testing.T) {
	msgs := newGenerator(seed).messages(2*syncBatch + 17)
	for _, mode := range []string{"", "-durable", "-split"} {
		dir := t.TempDir()
		intake, queue := filepath.Join(dir, "intake"), filepath.Join(dir, "queue")
		if err := writeIntake(intake, msgs); err != nil {
			t.Fatal(err)
		}
		if err := makeQueues(queue, lists()); err != nil {
			t.Fatal(err)
		}
		run := func() error { return floor(intake, queue, mode == "-durable") }
		if mode == "-split" {
			run = func() error { return splitFloor(intake, queue) }
		}
		if err := run(); err != nil {
			t.Fatalf("floor %s: %v", mode, err)
		}
		if err := verify(intake, queue, "new", want(msgs)); err != nil {
			t.Errorf("floor %s: %v", mode, err)
		}
	}
}
