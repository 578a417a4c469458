package cli

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// value is one flag's value, with where it came from.
type value struct {
	name, env string
	kind      kind
	raw       string // the text it was set from, flag or environment
	fromEnv   bool   // set from the environment, not on the command line
	given     bool   // set on the command line or from the environment
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
	v.raw, v.fromEnv, v.given = s, false, true
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
	if !v.given {
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
