package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Flags is a tool's command line, whose defaults come from the
// environment, so that envdir, chpst -e and s6-envdir configure a
// service, while a flag on the command line still wins. An empty
// variable counts as unset: envdir makes a file holding only a newline an
// empty variable, and a service directory keeps such files to show what
// can be set.
//
// It knows where each value came from, so that the tool's usage error
// can name the culprit: "-l given, and MDSWEEP_QUEUE is set in the
// environment", "MDCLAIM_MAX='x' in the environment: not a whole number".
// The tool checks its values itself, in plain code, with Given, Origin
// and Clash for the words.
//
// Every tool has -V: Parse returns ErrVersion for it.
type Flags struct {
	set     *flag.FlagSet
	vars    map[string]*value // by flag name
	bad     error             // the first bad environment value, or bad flag value
	version *bool             // -V
}

// ErrHelp is the error Parse returns for -h or -help: the tool prints its
// usage on standard output and exits 0.
var ErrHelp = flag.ErrHelp

// ErrVersion is the error Parse returns for -V: the tool prints its name
// and Version on standard output and exits 0.
var ErrVersion = errors.New("version asked for")

// NewFlags returns the command line of the tool prog, with its -V. It
// prints nothing itself: the tool says what is wrong, once.
func NewFlags(prog string) *Flags {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	f := &Flags{set: fs, vars: map[string]*value{}}
	f.version = f.Bool("V", "", "print the tool's name and version and exit")
	return f
}

// define makes the flag, its default taken from $env when that is set
// and not empty.
func (f *Flags) define(v *value, usage string) {
	v.f = f
	if s := os.Getenv(v.env); s != "" && v.env != "" {
		v.raw, v.fromEnv, v.given = s, true, true
		if err := v.parse(s); err != nil && f.bad == nil {
			f.bad = fmt.Errorf("%s: %v", v.origin(), err)
		}
	}
	f.vars[v.name] = v
	f.set.Var(v, v.name, usage)
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

// Parse parses args. Its error names the problem in words, for the
// tool's usage message: a bad flag or environment value, an unknown
// option. -h gives ErrHelp and -V ErrVersion even when the environment
// holds a bad value, so that a service's env/ cannot hide them (a bad
// option before them on the command line still ends the parse there).
func (f *Flags) Parse(args []string) error {
	err := f.set.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return ErrHelp
	case *f.version:
		return ErrVersion
	case f.bad != nil:
		return f.bad
	case err != nil:
		return explain(err)
	}
	return nil
}

// explain says a flag package error in our words, without Go's.
func explain(err error) error {
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

// Name is the tool's name.
func (f *Flags) Name() string { return f.set.Name() }

// Args are the operands, what follows the flags.
func (f *Flags) Args() []string { return f.set.Args() }

// Arg is operand i, "" if there is none.
func (f *Flags) Arg(i int) string { return f.set.Arg(i) }

// NArg is the number of operands.
func (f *Flags) NArg() int { return f.set.NArg() }

// PrintUsage prints the usage line and the flags on w.
func (f *Flags) PrintUsage(w io.Writer, synopsis string) {
	fmt.Fprintf(w, "usage: %s\n", synopsis)
	f.set.SetOutput(w)
	f.set.PrintDefaults()
	f.set.SetOutput(io.Discard)
}

// Usage ends a run that Parse, or a check of the flags after it, refused.
// It says what is wrong (err, in words) and the usage line on stderr,
// and returns 100. For -h (ErrHelp) it prints the usage line and the
// flags on stdout, for -V (ErrVersion) the tool's name and version, and
// returns 0.
func (f *Flags) Usage(synopsis string, err error) int {
	if errors.Is(err, ErrHelp) {
		f.PrintUsage(os.Stdout, synopsis)
		return int(OK)
	}
	if errors.Is(err, ErrVersion) {
		fmt.Printf("%s %s\n", f.Name(), Version())
		return int(OK)
	}
	NewLog(f.Name()).Printf("%v", err)
	fmt.Fprintf(os.Stderr, "usage: %s\n", synopsis)
	return int(Perm)
}

// Given reports whether flag name was set, on the command line or by its
// environment variable, whatever its value: a tool that behaves
// differently when the user chose a value, even the default one, asks
// this.
func (f *Flags) Given(name string) bool { return f.lookup(name).given }

// Origin names where flag name's value came from, for a message about
// it: "-H 'x'", "MDROUTE_HEADERS='x' in the environment", or "-n
// (default 0)".
func (f *Flags) Origin(name string) string { return f.lookup(name).origin() }

// Clash says where each of the named flags came from, for a message about
// flags that cannot be set together: "-w and -f given together", "-l
// given, and MDSWEEP_QUEUE is set in the environment", "MDCLAIM_WAIT and
// MDCLAIM_FOLLOW are set in the environment".
func (f *Flags) Clash(names ...string) string {
	var given, env []string
	for _, n := range names {
		if v := f.lookup(n); v.fromEnv {
			env = append(env, v.env)
		} else {
			given = append(given, "-"+v.name)
		}
	}
	verb := "is"
	if len(env) > 1 {
		verb = "are"
	}
	switch {
	case len(env) == 0:
		return and(given) + " given together"
	case len(given) == 0:
		return fmt.Sprintf("%s %s set in the environment", and(env), verb)
	}
	return fmt.Sprintf("%s given, and %s %s set in the environment", and(given), and(env), verb)
}

// lookup panics on a name no flag has: a tool's mistake, which its
// tests find.
func (f *Flags) lookup(name string) *value {
	v, ok := f.vars[name]
	if !ok {
		panic("cli: no flag -" + name)
	}
	return v
}

// and joins "a", "a and b", "a, b and c".
func and(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
