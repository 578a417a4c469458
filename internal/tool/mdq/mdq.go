// Package mdq is mdq's command line (see package tool). It is a package
// of its own because it reads the messages' headers with go-message and
// its character sets, whose start-up would otherwise cost every run of
// the pipeline's tools.
package mdq

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/inventory"
	"mdpipe/internal/record"
	"mdpipe/internal/route"
)

const mdqUsage = "mdq [-q queue] [-l [-v] | -m | -w age] [-s age] maildir | mdq (-R | -D) [-s age] [path ...]"

// Main is mdq: it shows what an intake maildir holds: a summary, a
// list, metrics, or a health check. -R and -D, its only writes, requeue
// or drop messages.
func Main(args []string) int {
	fs := cli.NewFlags("mdq")
	queue := fs.String("q", "MDQ_QUEUE", "", "also show each list's `queue` under this directory (mdsweep -q's)")
	list := fs.Bool("l", "", "list each message: PATH STATE AGE REASON LIST RECIPIENT, TAB-separated")
	verbose := fs.Bool("v", "", "with -l: add From, Subject and Message-ID")
	metrics := fs.Bool("m", "", "print Prometheus metrics (node_exporter's textfile format)")
	wait := fs.Duration("w", "", 0, "exit 111 with one line if a message has waited (new, claimed or deferred) longer than `age`")
	stranded := fs.Duration("s", "MDQ_STRANDED", 10*time.Minute, "a claim no process holds is stranded once claimed this `age` ago (mdclaim -r's age)")
	requeue := fs.Bool("R", "", "requeue the paths given (operands or stdin): back to new/ now, reason dropped")
	drop := fs.Bool("D", "", "drop the paths given into the maildir's .Trash/ folder")
	if err := fs.Parse(args); err != nil {
		return fs.Usage(mdqUsage, err)
	}
	modes := 0
	for _, on := range []bool{*list, *metrics, *wait != 0, *requeue, *drop} {
		if on {
			modes++
		}
	}
	switch {
	case modes > 1:
		return fs.Usage(mdqUsage, errors.New("-l, -m, -w, -R and -D exclude each other"))
	case *verbose && !*list:
		return fs.Usage(mdqUsage, errors.New("-v goes with -l"))
	case *wait < 0 || *stranded < 0:
		return fs.Usage(mdqUsage, errors.New("an age is not negative"))
	case *requeue || *drop:
		return requeueOrDrop(fs, *drop, *stranded)
	case fs.NArg() != 1:
		return fs.Usage(mdqUsage, errors.New("want one maildir"))
	}
	log := cli.NewLog("mdq")
	maildir := fs.Arg(0)
	opt := inventory.Options{StrandedAfter: *stranded, Now: time.Now()}
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	var tally inventory.Tally
	var eldest *inventory.Message // of the waiting messages, for -w
	var details *inventory.Reader
	if *list {
		details = &inventory.Reader{Router: route.Router{Delims: "+"}, Verbose: *verbose}
	}
	err := inventory.Scan(maildir, opt, func(m inventory.Message) {
		tally.Add(m)
		if m.State.Waiting() && (eldest == nil || m.Age > eldest.Age) {
			eldest = &m
		}
		if details != nil {
			inventory.WriteListed(out, m, details.Read(m.Path), *verbose)
		}
	})
	if err != nil {
		log.Printf("%v", err)
		return int(cli.Temp)
	}
	var qs []inventory.Queue
	if *queue != "" {
		if qs, err = inventory.ScanQueues(*queue, opt.Now); err != nil {
			log.Printf("cannot read the queue: %v", err)
			return int(cli.Temp)
		}
	}
	switch {
	case *wait != 0:
		if eldest != nil && eldest.Age > *wait {
			log.Path("waiting too long", eldest.Path,
				fmt.Errorf("%s for %s, more than %s", eldest.State, eldest.Age.Round(time.Second), *wait))
			return int(cli.Temp)
		}
		return int(cli.OK)
	case *metrics:
		err = inventory.WriteMetrics(out, &tally, qs)
	case !*list:
		err = inventory.WriteSummary(out, &tally, qs)
	}
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		log.Printf("cannot write output: %v", err)
		return int(cli.Temp)
	}
	return int(cli.OK)
}

// requeueOrDrop requeues (-R) or drops (-D) each path of its input, and prints
// where each went.
func requeueOrDrop(fs *cli.Flags, drop bool, strandedAfter time.Duration) int {
	in, err := cli.NewInput(fs.Args())
	if err != nil {
		return fs.Usage(mdqUsage, err)
	}
	log, status := cli.NewLog("mdq"), cli.OK
	out := bufio.NewWriter(os.Stdout)
	var dirs fsx.DirSync
	act, what := inventory.Requeue, "cannot requeue"
	if drop {
		act, what = inventory.Drop, "cannot drop"
	}
	for {
		line, err := in.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Printf("reading input: %v", err)
			status = cli.Worse(status, cli.Temp)
			break
		}
		path := record.PathOf(line) // a line of mdq -l will do
		if in.FromOperands() {
			path = string(line)
		}
		to, err := act(path, strandedAfter, &dirs)
		switch {
		case err == nil:
			fmt.Fprintln(out, to)
		case errors.Is(err, inventory.ErrIsNew):
			log.Path("", path, err)
		case !errors.Is(err, inventory.ErrNotMessage) && !fault.IsGone(err):
			// A claim held or young (ErrHeld, ErrYoung), or a failed rename.
			log.Path(what, path, err)
			status = cli.Worse(status, cli.Temp)
		default:
			log.Path(what, path, err)
			status = cli.Worse(status, cli.Perm)
		}
	}
	if err := dirs.Commit(); err != nil {
		log.Printf("%v", err)
		status = cli.Worse(status, cli.Temp)
	}
	if err := out.Flush(); err != nil {
		log.Printf("cannot write output: %v", err)
		status = cli.Worse(status, cli.Temp)
	}
	return int(status)
}
