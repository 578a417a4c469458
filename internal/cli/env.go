package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// Flags wraps a FlagSet whose defaults come from the environment, so that
// envdir, chpst -e and s6-envdir configure a service, while a flag on the
// command line still wins. An empty variable counts as unset: envdir
// makes a file holding only a newline an empty variable, and a service
// directory keeps such files to show what can be set.
//
// It also knows where each value came from, so that a usage error can
// name the culprit: "-l given, and MDSWEEP_QUEUE is set in the
// environment", "MDCLAIM_MAX='x' in the environment: not a whole number".
type Flags struct {
	*flag.FlagSet
	vars map[string]*value // by flag name
	bad  error             // the first bad environment value, or bad flag value
}

// ErrHelp is the error Parse returns for -h or -help: the tool prints its
// usage on standard output and exits 0.
var ErrHelp = flag.ErrHelp

// NewFlags returns a FlagSet that reports errors instead of exiting, and
// prints nothing itself: the tool says what is wrong, once (see Usage).
func NewFlags(prog string) *Flags {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &Flags{FlagSet: fs, vars: map[string]*value{}}
}

// value is one flag's value, with where it came from.
type value struct {
	name, env string
	kind      kind
	raw       string // the text it was set from, flag or environment
	fromEnv   bool   // set from the environment, not on the command line
	s         *string
	b         *bool
	n         *int
	d         *time.Duration
	f         *Flags
}

type kind int

const (
	kString kind = iota
	kBool
	kInt
	kDuration
)

// String is "" for a zero value of any kind, so that the usage shows a
// default only where there is one to show.
func (v *value) String() string {
	if v == nil || v.f == nil || !v.isSet() {
		return ""
	}
	switch v.kind {
	case kBool:
		return strconv.FormatBool(*v.b)
	case kInt:
		return strconv.Itoa(*v.n)
	case kDuration:
		return v.d.String()
	}
	return *v.s
}

func (v *value) IsBoolFlag() bool { return v.kind == kBool }

func (v *value) Get() any {
	switch v.kind {
	case kBool:
		return *v.b
	case kInt:
		return *v.n
	case kDuration:
		return *v.d
	}
	return *v.s
}

// Set is the command line's: flag calls it for each -name value.
func (v *value) Set(s string) error {
	v.raw, v.fromEnv = s, false
	if err := v.parse(s); err != nil {
		// flag wraps this as `invalid value "x" for flag -n: ...`; Parse
		// says it our way.
		if v.f.bad == nil {
			v.f.bad = fmt.Errorf("%s: %v", v.origin(), err)
		}
		return err
	}
	return nil
}

// parse sets the value from s, or says in words why it cannot.
func (v *value) parse(s string) error {
	switch v.kind {
	case kString:
		*v.s = s
	case kBool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			if !v.fromEnv {
				return errors.New("not true or false")
			}
			// The environment's looser rule: anything but 0, false or
			// no is on (an empty value is unset, never here).
			b = s != "no"
		}
		*v.b = b
	case kInt:
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			if errors.Is(err, strconv.ErrRange) {
				return errors.New("too large")
			}
			return errors.New("not a whole number")
		}
		*v.n = n
	case kDuration:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return errors.New("not a duration (a number and a unit: 90s, 10m, 1h)")
		}
		*v.d = d
	}
	return nil
}

// origin names where the value came from, for a message about it:
// "-n '-1'" or "MDCLAIM_MAX='-1' in the environment".
func (v *value) origin() string {
	if v.fromEnv {
		return fmt.Sprintf("%s='%s' in the environment", v.env, v.raw)
	}
	if v.kind == kBool {
		if v.raw != "true" && v.raw != "" {
			return fmt.Sprintf("-%s=%s", v.name, v.raw)
		}
		return "-" + v.name
	}
	if v.raw == "" { // the default
		return fmt.Sprintf("-%s (default %v)", v.name, v.Get())
	}
	return fmt.Sprintf("-%s '%s'", v.name, v.raw)
}

// isSet reports whether the flag has a value other than its zero one.
func (v *value) isSet() bool {
	switch v.kind {
	case kBool:
		return *v.b
	case kInt:
		return *v.n != 0
	case kDuration:
		return *v.d != 0
	}
	return *v.s != ""
}

// define makes the flag, its default taken from $env when that is set
// and not empty.
func (f *Flags) define(v *value, usage string) {
	v.f = f
	if s := os.Getenv(v.env); s != "" && v.env != "" {
		v.raw, v.fromEnv = s, true
		if err := v.parse(s); err != nil && f.bad == nil {
			f.bad = fmt.Errorf("%s: %v", v.origin(), err)
		}
	}
	f.vars[v.name] = v
	f.Var(v, v.name, usage)
}

// String defines a string flag defaulting to $env.
func (f *Flags) String(name, env, def, usage string) *string {
	v := &value{name: name, env: env, kind: kString, s: &def}
	f.define(v, usage)
	return v.s
}

// Bool defines a boolean flag defaulting to $env (any non-empty value but
// 0, false or no turns it on).
func (f *Flags) Bool(name, env string, usage string) *bool {
	def := false
	v := &value{name: name, env: env, kind: kBool, b: &def}
	f.define(v, usage)
	return v.b
}

// Duration defines a duration flag defaulting to $env.
func (f *Flags) Duration(name, env string, def time.Duration, usage string) *time.Duration {
	v := &value{name: name, env: env, kind: kDuration, d: &def}
	f.define(v, usage)
	return v.d
}

// Int defines an int flag defaulting to $env.
func (f *Flags) Int(name, env string, def int, usage string) *int {
	v := &value{name: name, env: env, kind: kInt, n: &def}
	f.define(v, usage)
	return v.n
}

// Parse parses args, then checks rules in order. The error names the
// problem in words, for Usage: a bad flag or environment value, a
// conflict, a value out of range. -h gives ErrHelp.
func (f *Flags) Parse(args []string, rules ...Rule) error {
	if f.bad != nil {
		return f.bad
	}
	if err := f.FlagSet.Parse(args); err != nil {
		return f.explain(err)
	}
	for _, r := range rules {
		if err := r(f); err != nil {
			return err
		}
	}
	return nil
}

// explain says a flag package error in our words, without Go's.
func (f *Flags) explain(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return err
	}
	if f.bad != nil {
		return f.bad
	}
	s := err.Error()
	if name, ok := strings.CutPrefix(s, "flag provided but not defined: "); ok {
		return fmt.Errorf("unknown option %s", name)
	}
	if name, ok := strings.CutPrefix(s, "flag needs an argument: "); ok {
		return fmt.Errorf("option %s needs a value", name)
	}
	if arg, ok := strings.CutPrefix(s, "bad flag syntax: "); ok {
		return fmt.Errorf("bad option '%s'", arg)
	}
	return errors.New(s)
}

// PrintUsage prints the usage line and the flags on w.
func (f *Flags) PrintUsage(w io.Writer, synopsis string) {
	fmt.Fprintf(w, "usage: %s\n", synopsis)
	f.SetOutput(w)
	f.PrintDefaults()
	f.SetOutput(io.Discard)
}

// Origin names where flag name's value came from, for a message about
// it: "-H 'x'", or "MDROUTE_HEADERS='x' in the environment".
func (f *Flags) Origin(name string) string { return f.lookup(name).origin() }

// A Rule checks the parsed flags and operands; its error names the
// problem.
type Rule func(*Flags) error

func (f *Flags) lookup(name string) *value {
	v, ok := f.vars[name]
	if !ok {
		panic("cli: rule names no flag -" + name)
	}
	return v
}

// OneOf wants exactly one of the named flags set, from the command line
// or the environment (mdsweep's targets).
func OneOf(names ...string) Rule {
	return func(f *Flags) error {
		set := f.setAmong(names)
		if len(set) == 0 {
			return fmt.Errorf("one of %s is needed", flagList(names))
		}
		return f.conflict(set, names)
	}
}

// AtMostOne wants at most one of the named flags set (mdclaim -w, -f).
func AtMostOne(names ...string) Rule {
	return func(f *Flags) error { return f.conflict(f.setAmong(names), names) }
}

func (f *Flags) setAmong(names []string) []*value {
	var set []*value
	for _, n := range names {
		if v := f.lookup(n); v.isSet() {
			set = append(set, v)
		}
	}
	return set
}

// conflict says which of the set flags clash, and where each came from:
// "-l given, and MDSWEEP_QUEUE is set in the environment".
func (f *Flags) conflict(set []*value, names []string) error {
	if len(set) < 2 {
		return nil
	}
	var given, env []string
	for _, v := range set {
		if v.fromEnv {
			env = append(env, v.env)
		} else {
			given = append(given, "-"+v.name)
		}
	}
	var who string
	switch {
	case len(env) == 0:
		who = and(given) + " given together"
	case len(given) == 0:
		who = and(env) + " are set in the environment"
	default:
		verb := "is"
		if len(env) > 1 {
			verb = "are"
		}
		who = fmt.Sprintf("%s given, and %s %s set in the environment", and(given), and(env), verb)
	}
	return fmt.Errorf("%s: choose one of %s", who, flagList(names))
}

// Requires wants flag other set wherever flag name is: an option that
// only means something with another (mdsweep -C with -q).
func Requires(name, other string) Rule {
	return func(f *Flags) error {
		v, o := f.lookup(name), f.lookup(other)
		if v.isSet() && !o.isSet() {
			return fmt.Errorf("%s only goes with -%s", v.origin(), o.name)
		}
		return nil
	}
}

// Check wants test to accept flag name's value; its error says why not.
func Check(name string, test func(string) error) Rule {
	return func(f *Flags) error {
		v := f.lookup(name)
		if !v.isSet() {
			return nil
		}
		if err := test(fmt.Sprint(v.Get())); err != nil {
			return fmt.Errorf("%s: %v", v.origin(), err)
		}
		return nil
	}
}

// AtLeast wants each named int or duration flag to be min or more (a
// duration's min in nanoseconds, so 0 is the usual one).
func AtLeast(min int64, names ...string) Rule {
	return func(f *Flags) error {
		for _, n := range names {
			v := f.lookup(n)
			if v.number() < min {
				return fmt.Errorf("%s: must be %s or more", v.origin(), v.show(min))
			}
		}
		return nil
	}
}

// Above wants each named int or duration flag to be more than min.
func Above(min int64, names ...string) Rule {
	return func(f *Flags) error {
		for _, n := range names {
			v := f.lookup(n)
			if v.number() <= min {
				return fmt.Errorf("%s: must be more than %s", v.origin(), v.show(min))
			}
		}
		return nil
	}
}

func (v *value) number() int64 {
	switch v.kind {
	case kInt:
		return int64(*v.n)
	case kDuration:
		return int64(*v.d)
	}
	panic("cli: range rule on the non-number flag -" + v.name)
}

func (v *value) show(n int64) string {
	if v.kind == kDuration {
		return time.Duration(n).String()
	}
	return strconv.FormatInt(n, 10)
}

// Operands wants between min and max operands (max < 0: any number);
// what names them in the message ("maildir").
func Operands(what string, min, max int) Rule {
	return func(f *Flags) error {
		n := f.NArg()
		want := fmt.Sprintf("at most %d", max)
		if max == 1 {
			want = "one"
		}
		switch {
		case n == 0 && min > 0:
			return fmt.Errorf("no %s given", what)
		case n < min:
			return fmt.Errorf("%d operands, want at least %d (%s)", n, min, what)
		case max >= 0 && n > max:
			return fmt.Errorf("%d operands ('%s'), want %s %s", n, strings.Join(f.Args(), "' '"), want, what)
		}
		return nil
	}
}

func flagList(names []string) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = "-" + n
	}
	return strings.Join(s, ", ")
}

// and joins "a", "a and b", "a, b and c".
func and(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
