package tool

import (
	"errors"
	"path/filepath"

	"mdpipe/internal/cli"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/record"

	"golang.org/x/sys/unix"
)

const mdfailUsage = "mdfail [-v] [path ...]"

// Mdfail parks each claim it is given as cur/B:1,X, with the reason its
// failed record gives, and prints the new path.
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
	// One fsync of cur/ makes a batch of parks and their reasons durable.
	var dirs fsx.DirSync
	commit := func() {
		if err := dirs.Commit(); err != nil {
			r.log.Printf("%v", err)
			r.note(cli.Temp)
		}
	}
	if !r.onDrain(commit) {
		return int(cli.Perm)
	}
	r.each(in, commit, func(line []byte) {
		path, why := record.PathOf(line), ""
		if in.FromOperands() {
			path = string(line) // a whole path, not a record
		} else if rec, err := record.Parse(line); err == nil && rec.Failed() {
			why = rec.Reason
		}
		if err := record.CheckPath(path); err != nil {
			r.log.Path("", path, err)
			r.note(cli.Perm)
			return
		}
		x, err := intake.FailWith(path, why)
		switch {
		case err == nil:
			dirs.Mark(filepath.Dir(x))
			r.out.Record(x)
			r.log.Info("parked '%s' as '%s'", path, x)
		case errors.Is(err, intake.ErrParked):
			r.log.Info("'%s': parked already as '%s'", path, x)
		case fsx.IsNotExist(err) && in.FromOperands():
			// A path typed, or passed, as an operand: say so.
			r.log.Path("", path, unix.ENOENT)
			r.note(cli.Perm)
		case fsx.IsNotExist(err):
			// Someone else acted on the claim first (mdpipe(7), RULES:
			// the owner rule).
			r.log.Info("skipping '%s': gone", path)
		default:
			r.log.Path("cannot park", path, err)
			if isPermanentRead(err) || errors.Is(err, intake.ErrNotClaim) || errors.Is(err, intake.ErrNotInMaildir) {
				r.note(cli.Perm)
			} else {
				r.note(cli.Temp)
			}
		}
	})
	return r.end()
}
