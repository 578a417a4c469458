package tool

import (
	"errors"
	"path/filepath"

	"mdpipe/internal/cli"
	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/record"
	"mdpipe/internal/stage"

	"golang.org/x/sys/unix"
)

const mdfailUsage = "mdfail [-v] [path ...]"

// Mdfail parks each claim it is given as cur/B:1,X, with the reason its
// failed record gives, and prints the new path.
func Mdfail(args []string) int {
	fs := cli.NewFlags("mdfail")
	verbose := fs.Bool("v", "MDFAIL_VERBOSE", "log each message parked")
	if err := fs.Parse(args); err != nil {
		return fs.Usage(mdfailUsage, err)
	}
	in, err := cli.NewInput(fs.Args())
	if err != nil {
		return fs.Usage(mdfailUsage, err)
	}
	s, ok := stage.After("mdfail")
	if !ok {
		return int(cli.Perm)
	}
	s.Log.Verbose = *verbose
	// One fsync of cur/ makes a batch of parks and their reasons durable.
	var dirs fsx.DirSync
	commit := func() {
		if err := dirs.Commit(); err != nil {
			s.Log.Printf("%v", err)
			s.Note(cli.Temp)
		}
	}
	s.Each(in, stage.Commits{Pause: commit}, func(line []byte) {
		path, why := record.PathOf(line), ""
		if in.FromOperands() {
			path = string(line) // a whole path, not a record
		} else if rec, err := record.Parse(line); err == nil && rec.Failed() {
			why = rec.Reason
		}
		if err := record.CheckPath(path); err != nil {
			s.Log.Path("", path, err)
			s.Note(cli.Perm)
			return
		}
		c, err := intake.ParseClaim(path)
		var x string
		if err == nil {
			x, err = c.Park(why)
		}
		switch {
		case err == nil:
			dirs.Mark(filepath.Dir(x))
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
