package tool

import (
	"errors"
	"io"

	"mdpipe/internal/cli"
)

// each runs handle on every input record, holding the Stopper while it
// does, with commit run and the output flushed whenever the input has
// nothing more waiting. It returns when the input ends, the next tool has
// gone, or a write fails.
func (r *run) each(in *cli.Input, commit func(), handle func(line []byte)) {
	in.OnIdle(func() {
		r.stop.Hold()
		if commit != nil {
			commit()
		}
		if err := r.out.Flush(); err != nil {
			r.outputFailed(err)
		}
		r.stop.Release()
	})
	for r.out.Err() == nil && !r.quit {
		line, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, cli.ErrRecordTooLong) {
			r.log.Printf("reading input: %v", err)
			r.note(cli.Perm)
			continue
		}
		if err != nil {
			if errors.Is(err, cli.ErrDownstreamGone) {
				r.outputFailed(err)
			} else {
				r.log.Printf("reading input: %v", err)
				r.note(cli.Temp)
			}
			break
		}
		r.stop.Hold()
		handle(line)
		r.stop.Release()
	}
	r.stop.Hold()
	if commit != nil {
		commit()
	}
	r.stop.Release()
}
