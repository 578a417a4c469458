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
	r := newRun("mdfail")
	r.log.Verbose = *verbose
	if !r.onDrain(nil) {
		return int(cli.Perm)
	}
	r.each(in, nil, func(line []byte) {
		path := record.PathOf(line)
		if in.FromOperands() {
			path = string(line) // a whole path, not a record
		}
		if err := record.CheckPath(path); err != nil {
			r.log.Path("", path, err)
			r.note(cli.Perm)
			return
		}
		c, err := intake.ParseClaim(path)
		var x string
		if err == nil {
			x, err = c.Park()
		}
		switch {
		case err == nil:
			r.out.Record(x)
			r.log.Info("parked '%s' as '%s'", path, x)
		case errors.Is(err, intake.ErrParked):
			r.log.Info("'%s': parked already as '%s'", path, x)
		case fault.IsGone(err) && in.FromOperands():
			// A path typed, or passed, as an operand: say so.
			r.log.Path("", path, unix.ENOENT)
			r.note(cli.Perm)
		case fault.IsGone(err):
			// Someone else acted on the claim first (DESIGN rule 1).
			r.log.Info("skipping '%s': gone", path)
		default:
			r.log.Path("cannot park", path, err)
			if fault.IsPermanent(err) || errors.Is(err, intake.ErrNotClaim) || errors.Is(err, intake.ErrNotInMaildir) {
				r.note(cli.Perm)
			} else {
				r.note(cli.Temp)
			}
		}
	})
	return r.end()
}
