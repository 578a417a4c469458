package main

import "fmt"

// targets are the goals with what was measured against each.
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
	fmt.Printf("Targets (issues 5 and 12)\n\n%-48s %-32s %s\n", "target", "measured", "met")
	for _, x := range t {
		met := "NO"
		if x.met {
			met = "yes"
		}
		fmt.Printf("%-48s %-32s %s\n", x.goal, x.measured, met)
	}
}
