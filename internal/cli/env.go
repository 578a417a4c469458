package cli

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Flags wraps a FlagSet whose defaults come from the environment, so that
// envdir, chpst -e and s6-envdir configure a service, while a flag on the
// command line still wins.
type Flags struct {
	*flag.FlagSet
	bad []string
}

// NewFlags returns a FlagSet that reports errors instead of exiting.
func NewFlags(prog string) *Flags {
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	// The tool prints its own usage once: flag's default Usage would print
	// the flag list a second time.
	fs.Usage = func() {}
	return &Flags{FlagSet: fs}
}

// String defines a string flag defaulting to $env.
func (f *Flags) String(name, env, def, usage string) *string {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	return f.FlagSet.String(name, def, usage)
}

// Bool defines a boolean flag defaulting to $env (any non-empty value but
// 0, false or no turns it on).
func (f *Flags) Bool(name, env string, usage string) *bool {
	def := false
	if v, ok := os.LookupEnv(env); ok && v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			b = v != "no"
		}
		def = b
	}
	return f.FlagSet.Bool(name, def, usage)
}

// Duration defines a duration flag defaulting to $env.
func (f *Flags) Duration(name, env string, def time.Duration, usage string) *time.Duration {
	if v, ok := os.LookupEnv(env); ok && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			f.bad = append(f.bad, fmt.Sprintf("$%s: %v", env, err))
		} else {
			def = d
		}
	}
	return f.FlagSet.Duration(name, def, usage)
}

// Int defines an int flag defaulting to $env.
func (f *Flags) Int(name, env string, def int, usage string) *int {
	if v, ok := os.LookupEnv(env); ok && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.bad = append(f.bad, fmt.Sprintf("$%s: %v", env, err))
		} else {
			def = n
		}
	}
	return f.FlagSet.Int(name, def, usage)
}

// Parse parses args; a bad flag or a bad environment value is an error.
func (f *Flags) Parse(args []string) error {
	if len(f.bad) > 0 {
		err := fmt.Errorf("%s", f.bad[0])
		fmt.Fprintf(f.Output(), "%s: %v\n", f.Name(), err)
		return err
	}
	return f.FlagSet.Parse(args)
}
