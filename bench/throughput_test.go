package main

import (
	"fmt"
	"slices"
	"testing"
)

// A row's × floor round by round pairs each run with the floor of its
// own round, and leaves out a round where either failed.
func TestPerRound(t *testing.T) {
	floor := &series{rates: []float64{100, 200, 400}, rounds: []int{1, 2, 4}}
	s := &series{rates: []float64{90, 50, 300, 100}, rounds: []int{1, 2, 3, 4}}
	got := perRound(s, floor)
	want := []float64{0.9, 0.25, 0.25}
	if !slices.Equal(got, want) {
		t.Errorf("perRound = %v, want %v", got, want)
	}
}

// The rounds are shown lowest first, each as the caller asks.
func TestLowestFirst(t *testing.T) {
	got := lowestFirst([]float64{1.1, 0.9, 1}, func(x float64) string { return fmt.Sprintf("%.1f", x) })
	if want := "0.9 1.0 1.1"; got != want {
		t.Errorf("lowestFirst = %q, want %q", got, want)
	}
}
