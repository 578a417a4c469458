package cli

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// An empty variable is unset: the default stands, whatever the type.
func TestFlagsEmptyEnvironmentIsUnset(t *testing.T) {
	for _, v := range []string{"T_STR", "T_INT", "T_DUR", "T_BOOL"} {
		t.Setenv(v, "")
	}
	f := NewFlags("test")
	s := f.String("s", "T_STR", "+", "")
	n := f.Int("n", "T_INT", 3, "")
	d := f.Duration("d", "T_DUR", time.Minute, "")
	b := f.Bool("b", "T_BOOL", "")
	if err := f.Parse(nil, OneOf("s", "b")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]any{"+", 3, time.Minute, false}, []any{*s, *n, *d, *b}); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
}

// Each usage error names the problem and where the value came from.
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
		{"int range", nil, []string{"-q", "x", "-n", "-1"}, "-n '-1': must be 0 or more"},
		{"int env", map[string]string{"T_N": "-2", "T_Q": "x"}, nil, "T_N='-2' in the environment: must be 0 or more"},
		{"duration", nil, []string{"-d", "5"}, "-d '5': not a duration (a number and a unit: 90s, 10m, 1h)"},
		{"duration range", nil, []string{"-q", "x", "-d", "0s"}, "-d '0s': must be more than 0s"},
		{"bool", nil, []string{"-a=perhaps"}, "-a=perhaps: not true or false"},
		{"both given", nil, []string{"-a", "-b"}, "-a and -b given together: choose one of -a, -b"},
		{"given and env", map[string]string{"T_A": "1"}, []string{"-b"}, "-b given, and T_A is set in the environment: choose one of -a, -b"},
		{"both env", map[string]string{"T_A": "1", "T_B": "yes"}, nil, "T_A and T_B are set in the environment: choose one of -a, -b"},
		{"target none", nil, []string{"-a"}, "one of -q, -c is needed"},
		{"target two", map[string]string{"T_Q": "q"}, []string{"-a", "-c", "cmd"}, "-c given, and T_Q is set in the environment: choose one of -q, -c"},
		{"no operand", nil, []string{"-a", "-q", "x"}, "no maildir given"},
		{"operands", nil, []string{"-a", "-q", "x", "m1", "m2"}, "2 operands ('m1' 'm2'), want one maildir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			f := NewFlags("test")
			f.Int("n", "T_N", 0, "")
			f.Duration("d", "T_D", time.Second, "")
			f.Bool("a", "T_A", "")
			f.Bool("b", "T_B", "")
			f.String("q", "T_Q", "", "")
			f.String("c", "T_C", "", "")
			err := f.Parse(tc.args, AtMostOne("a", "b"), OneOf("q", "c"), AtLeast(0, "n"), Above(0, "d"), Operands("maildir", 1, 1))
			if err == nil || err.Error() != tc.want {
				t.Errorf("Parse(%q) = %v, want %q", tc.args, err, tc.want)
			}
		})
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
		"  -i interval\n    \trescan every interval (default 5m0s)\n" +
		"  -n max\n    \tat most max (0: all)\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("usage (-want +got):\n%s", d)
	}
}

// Every log line is one line, with no byte a terminal acts on.
func TestLogEscapesControlBytes(t *testing.T) {
	var buf bytes.Buffer
	l := NewLog("mdfail")
	l.SetOutput(&buf)
	l.Path("cannot park", "in/cur/a\x1b[31mred\x07:1,P", errors.New("tab\there, cr\rthere, del\x7f, c1\u009b, nul\x00, bad\xff, ok é"))
	want := `mdfail: cannot park 'in/cur/a\x1b[31mred\x07:1,P': tab\there, cr\rthere, del\x7f, c1\u009b, nul\x00, bad\xff, ok é` + "\n"
	if d := cmp.Diff(want, buf.String()); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
}
