// Command mdbench measures mdpipe as black boxes: its throughput next to
// the floor (the bare system calls of the job), the durable floor (the
// same plus the directory fsyncs that make hand-offs durable), the split
// floor (the floor's work on two threads, as the pipeline splits it),
// the shell loop of mdpipe(7) and the fork-per-message wrapper mdpipe
// replaces; the cost of the service's bound on claims; follow-mode
// latency; a slow hand-off shared by two runners; one list of 50 whose
// hand-off fails; idle CPU; and, with -big, a 1,000,000-message backlog.
// It prints a table and the targets with whether each is met.
//
// It works in a fresh directory under -dir (default $BENCHDIR or /tmp),
// which it removes at the end. `make bench` and `make bench-big` run it.
//
//	mdbench [-bin dir] [-dir dir] [-n 20000] [-runs 15] [-big] [-only rows] ...
//	mdbench floor [-durable | -split] intake queue   (a floor, started by mdbench itself)
//	mdbench intake maildir n                         (write the first n messages, for profiling)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// seed makes every run of the bench generate the same messages.
const seed = 5

// defaultRuns is how many rounds the throughput and failing-list rows
// run. The targets are a few percent wide (the bound costs at most 5%;
// -k 64 at 0.9 of the floor), and on a shared two-CPU machine one round
// moves a row against the floor, or the bounded drain against the
// unbounded one, by 8 to 11% (standard deviation over rounds of one
// build). The median of 5 rounds is then uncertain by 4.5 to 6%, as much
// as the targets' margin; that of 15 rounds by 2.6 to 3.6%. A round of
// the throughput rows takes about a minute.
const defaultRuns = 15

type bench struct {
	bin    string // mdpipe's tools
	base   string // another build's tools to compare with (-base), or ""
	self   string // this program, re-run as the floor
	script string // the fork-per-message wrapper, written under root
	root   string // the scratch directory

	n, nShell, nFork, runs int
	idleFor                time.Duration
	rate                   int           // follow-mode deliveries per second
	followFor              time.Duration // and for how long
	nBig, bigRuns          int
	nSlow                  int           // slow hand-off: backlog
	nFail                  int           // one list failing: backlog
	slowFor                time.Duration // and how long the two runners work it
	gen                    *generator
	only                   string // -systems: the throughput rows to run, by key; "" for all
}

func main() { os.Exit(main1()) }

func main1() int {
	if len(os.Args) > 1 && os.Args[1] == "floor" {
		return floorMain(os.Args[2:])
	}
	if len(os.Args) > 1 && os.Args[1] == "intake" {
		return intakeMain(os.Args[2:])
	}
	b := &bench{gen: newGenerator(seed)}
	dir := os.Getenv("BENCHDIR")
	if dir == "" {
		dir = os.TempDir()
	}
	flag.StringVar(&b.bin, "bin", "bin", "directory of mdclaim, mdroute, mdsweep and mdfail")
	flag.StringVar(&dir, "dir", dir, "work under `directory` (same file system as the intake you care about)")
	flag.IntVar(&b.n, "n", 20000, "intake size for the floor and the streaming pipeline")
	flag.IntVar(&b.nShell, "nshell", 500, "intake size for the shell loop (one message per iteration: slow)")
	flag.IntVar(&b.nFork, "nfork", 200, "intake size for fork-per-message (one python3 per message: slow)")
	flag.IntVar(&b.runs, "runs", defaultRuns, "timed runs of each system (the table shows the median)")
	flag.DurationVar(&b.idleFor, "idle", 10*time.Second, "idle window")
	flag.IntVar(&b.rate, "rate", 1000, "follow mode: deliveries per second")
	flag.DurationVar(&b.followFor, "follow", 10*time.Second, "follow mode: how long to deliver")
	flag.StringVar(&b.base, "base", "", "also run the streaming rows and the shell loop with the tools in `dir` (another build), interleaved")
	flag.IntVar(&b.nSlow, "nslow", 5000, "slow hand-off: backlog size")
	flag.DurationVar(&b.slowFor, "slowfor", 10*time.Second, "slow hand-off: how long two runners work the backlog before the stop")
	flag.IntVar(&b.nFail, "nfail", 2000, "one list failing: backlog size")
	flag.StringVar(&b.only, "systems", "", "throughput: run only the systems with these `keys` (comma-separated: floor, durable, split, on, off, k64on, k64off, shell, fork, and with -base baseon, baseoff, basek64on, basek64off, baseshell)")
	only := flag.String("only", "", "run only `rows`: throughput, latency, slow, failing, idle (comma-separated)")
	big := flag.Bool("big", false, "scale: a large backlog (-nbig), peak RSS, and a 60 s idle window")
	flag.IntVar(&b.nBig, "nbig", 1000000, "with -big: backlog size")
	flag.IntVar(&b.bigRuns, "bigruns", 3, "with -big: drains of the backlog by each system (the table shows the median)")
	flag.Parse()
	if flag.NArg() != 0 || b.runs < 1 || b.n < 1 || b.nShell < 1 || b.nFork < 1 || b.rate < 1 || b.bigRuns < 1 || b.nSlow < 1 || b.nFail < 1 {
		flag.Usage()
		return 100
	}
	var err error
	if b.bin, err = filepath.Abs(b.bin); err != nil {
		return fail(err)
	}
	if b.base != "" {
		if b.base, err = filepath.Abs(b.base); err != nil {
			return fail(err)
		}
	}
	for _, t := range []string{"mdclaim", "mdroute", "mdsweep", "mdfail"} {
		if _, err := os.Stat(b.tool(t)); err != nil {
			return fail(fmt.Errorf("%v (run make first)", err))
		}
	}
	if b.self, err = os.Executable(); err != nil {
		return fail(err)
	}
	if b.root, err = os.MkdirTemp(dir, "mdbench."); err != nil {
		return fail(err)
	}
	defer os.RemoveAll(b.root)
	b.script = filepath.Join(b.root, "forkwrap.py")
	if err := os.WriteFile(b.script, forkScript, 0o644); err != nil {
		return fail(err)
	}
	host, _ := os.Hostname()
	fmt.Printf("mdbench: %s, %d CPUs, %s, work dir %s, %s\n\n", host, runtime.NumCPU(), runtime.Version(), b.root, time.Now().UTC().Format(time.RFC3339))
	var t targets
	if *big {
		b.idleFor = max(b.idleFor, 60*time.Second)
		b.scale(&t)
	} else {
		for _, row := range []struct {
			name string
			run  func(*targets)
		}{{"throughput", b.throughput}, {"latency", b.latency}, {"slow", b.slowHandoff}, {"failing", b.failingList}} {
			if *only == "" || strings.Contains(","+*only+",", ","+row.name+",") {
				row.run(&t)
			}
		}
	}
	if *only == "" || strings.Contains(","+*only+",", ",idle,") {
		b.idle(&t)
	}
	t.print()
	return 0
}

func (b *bench) tool(name string) string { return filepath.Join(b.bin, name) }

// progress goes to stderr, so the table on stdout stays clean.
func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, "mdbench: "+format+"\n", args...) }

func fail(err error) int {
	fmt.Fprintf(os.Stderr, "mdbench: %v\n", err)
	return 111
}

// intakeMain writes the bench's intake into a maildir, so that a tool can
// be profiled (strace -c, mdprof) on exactly what the bench measures.
func intakeMain(args []string) int {
	n := 0
	if len(args) == 2 {
		n, _ = strconv.Atoi(args[1])
	}
	if n < 1 {
		fmt.Fprintln(os.Stderr, "usage: mdbench intake maildir n")
		return 100
	}
	if err := writeIntake(args[0], newGenerator(seed).messages(n)); err != nil {
		return fail(err)
	}
	return 0
}
