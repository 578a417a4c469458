package cli

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// An empty variable is unset: the default stands, whatever the type, and
// the flag is not given.
func TestFlagsEmptyEnvironmentIsUnset(t *testing.T) {
	for _, v := range []string{"T_STR", "T_INT", "T_DUR", "T_BOOL"} {
		t.Setenv(v, "")
	}
	f := NewFlags("test")
	s := f.String("s", "T_STR", "+", "")
	n := f.Int("n", "T_INT", 3, "")
	d := f.Duration("d", "T_DUR", time.Minute, "")
	b := f.Bool("b", "T_BOOL", "")
	if err := f.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"+", 3, time.Minute, false}, []any{*s, *n, *d, *b}); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
	for _, name := range []string{"s", "n", "d", "b"} {
		if f.Given(name) {
			t.Errorf("Given(%q) with its variable empty", name)
		}
	}
}

// A variable sets the default; a flag on the command line wins.
func TestFlagsEnvironmentThenCommandLine(t *testing.T) {
	t.Setenv("T_N", "7")
	t.Setenv("T_S", "env")
	t.Setenv("T_B", "yes")
	f := NewFlags("test")
	n := f.Int("n", "T_N", 0, "")
	s := f.String("s", "T_S", "", "")
	b := f.Bool("b", "T_B", "")
	if err := f.Parse([]string{"-n", "9", "x"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{9, "env", true, []string{"x"}}, []any{*n, *s, *b, f.Args()}); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
}

// Given tells a flag set on the command line or by its variable, even to
// its default value, from one left alone.
func TestFlagsGiven(t *testing.T) {
	t.Setenv("T_E", "64")
	f := NewFlags("test")
	f.Int("k", "T_K", 64, "")
	f.Int("e", "T_E", 64, "")
	f.Int("u", "T_U", 64, "")
	f.Bool("b", "T_B", "")
	if err := f.Parse([]string{"-k", "64", "-b=false"}); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, name := range []string{"k", "e", "u", "b", "V"} {
		got[name] = f.Given(name)
	}
	want := map[string]bool{"k": true, "e": true, "u": false, "b": true, "V": false}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Given (-want +got):\n%s", d)
	}
}

// Each parse error names the problem and where the value came from.
func TestFlagsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown", nil, []string{"-z"}, "unknown option -z"},
		{"no value", nil, []string{"-n"}, "option -n needs a value"},
		{"syntax", nil, []string{"---n"}, "bad option '---n'"},
		{"int", nil, []string{"-n", "x"}, "-n 'x': not a whole number"},
		{"int too large", nil, []string{"-n", "99999999999999999999"}, "-n '99999999999999999999': too large"},
		{"int env", map[string]string{"T_N": "x"}, nil, "T_N='x' in the environment: not a whole number"},
		{"duration", nil, []string{"-d", "5"}, "-d '5': not a duration (a number and a unit: 90s, 10m, 1h)"},
		{"duration env", map[string]string{"T_D": "soon"}, nil, "T_D='soon' in the environment: not a duration (a number and a unit: 90s, 10m, 1h)"},
		{"bool", nil, []string{"-a=perhaps"}, "-a=perhaps: not true or false"},
		// The environment comes first: it was read before the command line.
		{"env and flag", map[string]string{"T_N": "x"}, []string{"-d", "5"}, "T_N='x' in the environment: not a whole number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := NewFlags("test")
			f.Int("n", "T_N", 0, "")
			f.Duration("d", "T_D", time.Second, "")
			f.Bool("a", "T_A", "")
			err := f.Parse(tc.args)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Parse(%q) = %v, want %q", tc.args, err, tc.want)
			}
		})
	}
}

// Origin and Clash give the words of a tool's own checks.
func TestFlagsOriginAndClash(t *testing.T) {
	t.Setenv("T_Q", "q")
	t.Setenv("T_L", "l")
	t.Setenv("T_F", "1")
	f := NewFlags("test")
	f.Int("n", "T_N", 0, "")
	f.Int("m", "T_M", 5, "")
	f.Bool("a", "T_A", "")
	f.Bool("w", "T_W", "")
	f.Bool("f", "T_F", "")
	f.String("q", "T_Q", "", "")
	f.String("c", "T_C", "", "")
	f.String("l", "T_L", "", "")
	if err := f.Parse([]string{"-n", "-1", "-a", "-w=1", "-c", "cmd"}); err != nil {
		t.Fatal(err)
	}
	got := []string{f.Origin("n"), f.Origin("m"), f.Origin("a"), f.Origin("w"), f.Origin("q"),
		f.Clash("a", "w"), f.Clash("c", "q"), f.Clash("a", "c", "q", "l"), f.Clash("q", "l")}
	want := []string{"-n '-1'", "-m (default 5)", "-a", "-w=1", "T_Q='q' in the environment",
		"-a and -w given together",
		"-c given, and T_Q is set in the environment",
		"-a and -c given, and T_Q and T_L are set in the environment",
		"T_Q and T_L are set in the environment"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("words (-want +got):\n%s", d)
	}
}

// -h and -V are answered whatever else is wrong: a bad variable in a
// service's environment must not hide the tool's usage or version.
func TestFlagsHelpAndVersionFirst(t *testing.T) {
	t.Setenv("T_N", "x")
	for _, tc := range []struct {
		args []string
		want error
	}{
		{[]string{"-h"}, ErrHelp},
		{[]string{"-help"}, ErrHelp},
		{[]string{"-V"}, ErrVersion},
		{[]string{"-V", "too", "many"}, ErrVersion},
		{nil, nil}, // the bad variable, for contrast
	} {
		f := NewFlags("test")
		f.Int("n", "T_N", 0, "")
		err := f.Parse(tc.args)
		if tc.want == nil {
			if err == nil || errors.Is(err, ErrHelp) || errors.Is(err, ErrVersion) {
				t.Errorf("Parse(%q) = %v, want the bad T_N", tc.args, err)
			}
			continue
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q) = %v, want %v", tc.args, err, tc.want)
		}
	}
}

func TestFlagsHelp(t *testing.T) {
	f := NewFlags("test")
	f.Duration("i", "T_I", 5*time.Minute, "rescan every `interval`")
	f.Int("n", "T_N", 0, "at most `max` (0: all)")
	if err := f.Parse([]string{"-h"}); !errors.Is(err, ErrHelp) {
		t.Fatalf("Parse(-h) = %v, want ErrHelp", err)
	}
	var b bytes.Buffer
	f.PrintUsage(&b, "test [-i interval] [-n max]")
	want := "usage: test [-i interval] [-n max]\n" +
		"  -V\tprint the tool's name and version and exit\n" +
		"  -i interval\n    \trescan every interval (default 5m0s)\n" +
		"  -n max\n    \tat most max (0: all)\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("usage (-want +got):\n%s", d)
	}
}
