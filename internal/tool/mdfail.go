package tool

import (
	"errors"

	"mdpipe/internal/cli"
	"mdpipe/internal/fault"
	"mdpipe/internal/intake"
	"mdpipe/internal/record"

	"golang.org/x/sys/unix"
)

const mdfailUsage = "mdfail [-v] [path ...]"

// Mdfail parks each claim it is given as cur/B:1,X and prints the new path.
func Mdfail(args []string) int {
	fs := cli.NewFlags("mdfail")
	verbose := fs.Bool("v", "MDFAIL_VERBOSE", "log each message parked")
	if err := fs.Parse(args); err != nil {
		return usage(fs, mdfailUsage, err)
	}
	in, err := cli.NewInput(fs.Args())
	if err != nil {
		return usage(fs, mdfailUsage, err)
	}
	s, ok := newStage("mdfail")
	if !ok {
		return int(cli.Perm)
	}
	s.Log.Verbose = *verbose
	s.Each(in, nil, func(line []byte) {
		path := record.PathOf(line)
		if in.FromOperands() {
			path = string(line) // a whole path, not a record
		}
		if err := record.CheckPath(path); err != nil {
			s.Log.Path("", path, err)
			s.Note(cli.Perm)
			return
		}
		c, err := intake.ParseClaim(path)
		var x string
		if err == nil {
			x, err = c.Park()
		}
		switch {
		case err == nil:
			s.Out.Record(x)
			s.Log.Info("parked '%s' as '%s'", path, x)
		case errors.Is(err, intake.ErrParked):
			s.Log.Info("'%s': parked already as '%s'", path, x)
		case fault.IsGone(err) && in.FromOperands():
			// A path typed, or passed, as an operand: say so.
			s.Log.Path("", path, unix.ENOENT)
			s.Note(cli.Perm)
		case fault.IsGone(err):
			// Someone else acted on the claim first (mdpipe(7), RULES:
			// the owner rule).
			s.Log.Info("skipping '%s': gone", path)
		default:
			s.Log.Path("cannot park", path, err)
			if fault.IsPermanent(err) || errors.Is(err, intake.ErrNotClaim) || errors.Is(err, intake.ErrNotInMaildir) {
				s.Note(cli.Perm)
			} else {
				s.Note(cli.Temp)
			}
		}
	})
	return s.End()
}
