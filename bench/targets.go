package main

import "fmt"

// targets are the goals the bench checks, with what was measured against
// each: the speed, isolation and slow hand-off goals, and follow-mode
// latency and idle CPU.
type targets []struct {
	goal, measured string
	met            bool
}

func (t *targets) add(goal, measured string, met bool) {
	*t = append(*t, struct {
		goal, measured string
		met            bool
	}{goal, measured, met})
}

func (t targets) print() {
	fmt.Printf("Targets\n\n%-50s %-34s %s\n", "target", "measured", "met")
	for _, x := range t {
		met := "NO"
		if x.met {
			met = "yes"
		}
		fmt.Printf("%-50s %-34s %s\n", x.goal, x.measured, met)
	}
}
