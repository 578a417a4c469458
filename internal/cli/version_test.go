package cli

import (
	"runtime/debug"
	"testing"
)

// The build's own version wins, then Go's stamp, then "devel".
func TestVersionOf(t *testing.T) {
	stamped := &debug.BuildInfo{Main: debug.Module{Path: "mdpipe", Version: "v0.0.0-20261206085406-096ce9f1a2b3+dirty"}}
	devel := &debug.BuildInfo{Main: debug.Module{Path: "mdpipe", Version: "(devel)"}}
	for _, tc := range []struct {
		set  string
		info *debug.BuildInfo
		want string
	}{
		{"1.2-3-gabcdef", stamped, "1.2-3-gabcdef"},
		{"", stamped, "v0.0.0-20261206085406-096ce9f1a2b3+dirty"},
		{"", devel, "devel"},
		{"", &debug.BuildInfo{}, "devel"},
		{"", nil, "devel"},
	} {
		if got := versionOf(tc.set, tc.info); got != tc.want {
			t.Errorf("versionOf(%q, %v) = %q, want %q", tc.set, tc.info, got, tc.want)
		}
	}
}
