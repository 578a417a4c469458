package main

import "testing"

// A run fails on what a stage says beyond the lines every run says.
func TestUnusual(t *testing.T) {
	for _, c := range []struct{ stderr, want string }{
		{"", ""},
		{"mdclaim: following '/srv/intake' (v1): at most 64 claims held, no recovery\n", ""},
		{"mdsweep: stopped: 10 records read, 0 written\nmdroute: stopped: 10 records read, 10 written\n", ""},
		{"mdclaim: following '/srv/intake' (v1): at most 64 claims held\nmdsweep: cannot hand off '/x': no such list\n",
			"mdsweep: cannot hand off '/x': no such list"},
	} {
		if got := unusual(c.stderr); got != c.want {
			t.Errorf("unusual(%q) = %q, want %q", c.stderr, got, c.want)
		}
	}
}
