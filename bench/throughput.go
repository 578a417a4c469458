package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// series is every run of one system.
type series struct {
	sys    system
	rates  []float64 // messages per second of each successful run
	rounds []int     // the round of each, counted from 1
	runs   []result
	errs   []error
}

func (s *series) median() float64 { return median(s.rates) }

// medianRun is the run whose rate is the median, for its per-stage costs.
func (s *series) medianRun() result {
	m := s.median()
	for i, r := range s.rates {
		if r == m {
			return s.runs[i]
		}
	}
	return result{}
}

// measure runs each system runs times, interleaved (A B C A B C ...) so
// that a slow minute on this shared machine hurts every system alike.
// Each run gets a fresh copy of the same intake and an empty queue.
func (b *bench) measure(systems []system, runs int) []*series {
	size := 0
	for _, s := range systems {
		size = max(size, s.n)
	}
	msgs := b.gen.messages(size)
	all := make([]*series, len(systems))
	for i, s := range systems {
		all[i] = &series{sys: s}
	}
	for run := 1; run <= runs; run++ {
		for _, s := range all {
			rate, res, err := b.once(s.sys, msgs[:s.sys.n])
			if err != nil {
				progress("run %d/%d %s: %v", run, runs, s.sys.name, err)
				s.errs = append(s.errs, err)
				continue
			}
			progress("run %d/%d %s: %.0f msg/s", run, runs, s.sys.name, rate)
			s.rates = append(s.rates, rate)
			s.rounds = append(s.rounds, run)
			s.runs = append(s.runs, res)
		}
	}
	return all
}

// once times one run of s over msgs and checks its work.
func (b *bench) once(s system, msgs []message) (float64, result, error) {
	dir := filepath.Join(b.root, "run")
	defer os.RemoveAll(dir)
	intake, queue := filepath.Join(dir, "intake"), filepath.Join(dir, "queue")
	// The queues first: the intake's flush of the file system then makes
	// them durable too, as on a site that has been running. Made after
	// it, the queues' directories were written back in part inside the
	// timed run, by the first fsyncs of the rows that fsync.
	if err := makeQueues(queue, b.gen.lists); err != nil {
		return 0, result{}, err
	}
	if err := writeIntake(intake, msgs); err != nil {
		return 0, result{}, err
	}
	res, err := s.run(b, intake, queue)
	if err != nil {
		return 0, res, err
	}
	if err := verify(intake, queue, s.layout, want(msgs)); err != nil {
		return 0, res, err
	}
	return float64(len(msgs)) / res.wall.Seconds(), res, nil
}

func (b *bench) throughput(t *targets) {
	all := b.measure(b.systems(), b.runs)
	get := func(key string) *series {
		for _, s := range all {
			if s.sys.key == key {
				return s
			}
		}
		return &series{}
	}
	floor, durable := get("floor").median(), get("durable").median()
	fmt.Printf("Throughput: median of %d interleaved runs, each on a fresh intake (messages/second)\n\n", b.runs)
	fmt.Printf("%-31s %7s %9s %9s %9s %8s %9s %7s %6s   %s\n", "system", "intake", "median", "min", "max",
		"× floor", "× durable", "CPU µs", "c.sw.", "per process: CPU µs / context switches per message (median run)")
	for _, s := range all {
		if len(s.rates) == 0 {
			fmt.Printf("%-31s %7d   all runs failed\n", s.sys.name, s.sys.n)
			continue
		}
		xDurable := ""
		if s.sys.durable {
			xDurable = ratio(s.median(), durable)
		}
		cpu, switches := perMessage(s.medianRun(), s.sys.n)
		fmt.Printf("%-31s %7d %9.0f %9.0f %9.0f %8s %9s %7.1f %6.2f   %s\n", s.sys.name, s.sys.n, s.median(),
			slices.Min(s.rates), slices.Max(s.rates), ratio(s.median(), floor), xDurable, cpu, switches,
			cpuPerMessage(s.medianRun(), s.sys.n))
	}
	for _, s := range all {
		for _, err := range s.errs {
			fmt.Printf("FAILED %s: %v\n", s.sys.name, err)
		}
	}
	fmt.Printf("\nRates are messages / wall-clock time of a run, from an intake in new/ (written and\nsynced before the clock starts) to every message in QUEUE/LIST/SUBQUEUE (which exist\nalready, as on a running site). The shell loop and fork-per-message start processes\nper message: their smaller intakes are in the intake column; sh's figures include its\nchildren. The floor is one Go process doing only the unavoidable system calls; the\ndurable floor adds the directory fsyncs that make a hand-off durable, batched as\nmdsweep batches them (at most %d hand-offs, then the queues' new/ and the intake's\ncur/, in the background, resting after each fsync as long as it took). The split floor\nis the floor on two threads, claims on one and the rest on the other, at most %d claims\napart, as the pipeline splits the work.\n× durable is shown for the rows that fsync. CPU µs and c.sw. are per message, all\nprocesses of the run together (rusage of the median run).\n\n", syncBatch, splitBound)

	b.printRounds(all, get("floor"))
	if split := get("split").median(); split > 0 && floor > 0 {
		fmt.Printf("The split floor ran at %s the floor: what splitting the floor's own work over two\nthreads gains or loses on this machine, before any process, pipe or check of mdpipe's.\n\n", ratio(split, floor))
	}

	on, off, fork := get("on").median(), get("off").median(), get("fork").median()
	kOn, kOff := get("k64on").median(), get("k64off").median()
	// change is the bounded rate against the unbounded one, in percent:
	// below zero, the bound costs.
	change := func(bounded, unbounded float64) float64 { return 100 * (bounded/unbounded - 1) }
	if on > 0 && off > 0 && kOn > 0 && kOff > 0 {
		fmt.Printf("The bound: mdclaim -k 64 against no bound (medians of this run), fsync on %+.1f%%, fsync off %+.1f%%\n(below zero, what the bound costs)\n",
			change(kOn, on), change(kOff, off))
		// The same, round by round: how far one round's noise moves it.
		for _, c := range []struct{ fsync, bounded, unbounded string }{{"fsync on", "k64on", "on"}, {"fsync off", "k64off", "off"}} {
			r := perRound(get(c.bounded), get(c.unbounded))
			fmt.Printf("  round by round, %-10s %s\n", c.fsync+":",
				lowestFirst(r, func(x float64) string { return fmt.Sprintf("%+.0f%%", change(x, 1)) }))
		}
		fmt.Println()
	}
	t.add("stream, fsync off ≥ 0.5 × floor", ratio(off, floor), floor > 0 && off >= 0.5*floor)
	t.add("stream, fsync on ≥ 0.3 × floor", ratio(on, floor), floor > 0 && on >= 0.3*floor)
	// Like for like: the wrapper does not fsync either (Mailman 2.1's
	// SYNC_AFTER_WRITE is off by default); fsync on is shown beside it.
	t.add("stream ≥ 500 × fork-per-message", fmt.Sprintf("%s (fsync on %s)", ratio(off, fork), ratio(on, fork)), fork > 0 && off >= 500*fork)

	// The speed goals, for the pipeline as the service runs it: bounded.
	for _, c := range []struct {
		fsync              string
		bounded, unbounded float64
	}{{"fsync on", kOn, on}, {"fsync off", kOff, off}} {
		t.add("bound (-k 64) costs ≤ 5%, "+c.fsync, fmt.Sprintf("%+.1f%% (%.0f vs %.0f/s)", change(c.bounded, c.unbounded), c.bounded, c.unbounded),
			c.bounded > 0 && c.unbounded > 0 && change(c.bounded, c.unbounded) >= -5)
	}
	t.add("-k 64, fsync off ≥ 1.0 × floor (goal)", ratio(kOff, floor), floor > 0 && kOff >= floor)
	kCPU, _ := perMessage(get("k64off").medianRun(), b.n)
	floorCPU, _ := perMessage(get("floor").medianRun(), b.n)
	t.add("-k 64, fsync off CPU ≤ 1.6 × floor's (goal)", fmt.Sprintf("%.1f vs %.1f µs/msg (%s)", kCPU, floorCPU, ratio(kCPU, floorCPU)),
		kCPU > 0 && floorCPU > 0 && kCPU <= 1.6*floorCPU)
	t.add("-k 64, fsync on ≥ 0.8 × durable floor (goal)", fmt.Sprintf("%s (floor %s)", ratio(kOn, durable), ratio(kOn, floor)), durable > 0 && kOn >= 0.8*durable)
	t.add("-k 64, fsync off ≥ 0.9 × floor (done when)", ratio(kOff, floor), floor > 0 && kOff >= 0.9*floor)
	// Against the plain floor, as the speed target states it, though that
	// floor fsyncs nothing; the durable comparison is the goal's row above.
	t.add("-k 64, fsync on ≥ 0.7 × floor (done when)", fmt.Sprintf("%s (durable floor %s)", ratio(kOn, floor), ratio(kOn, durable)), floor > 0 && kOn >= 0.7*floor)
	if b.base == "" {
		return
	}
	// The streaming rows keep their ratio to the floor, within 10% of
	// the base build's (the floor is the same run's, so this compares
	// the rates), bounded and not.
	baseOn, baseOff := get("baseon").median(), get("baseoff").median()
	baseKOn, baseKOff := get("basek64on").median(), get("basek64off").median()
	for _, c := range []struct {
		name     string
		rate     float64
		base     float64
		fsyncOff bool
	}{
		{"stream", on, baseOn, false}, {"stream", off, baseOff, true},
		{"stream -k 64", kOn, baseKOn, false}, {"stream -k 64", kOff, baseKOff, true},
	} {
		if c.rate == 0 && c.base == 0 {
			continue // not run (-systems)
		}
		fsync := map[bool]string{false: "fsync on", true: "fsync off"}[c.fsyncOff]
		t.add(fmt.Sprintf("%s, %s ≥ 0.9 × base's (× floor)", c.name, fsync),
			fmt.Sprintf("%s vs %s (%+.0f%%)", ratio(c.rate, floor), ratio(c.base, floor), 100*(c.rate/c.base-1)),
			c.base > 0 && c.rate >= 0.9*c.base)
	}
	// The shell loop starts four tools a message: what a start costs.
	if shell, baseShell := get("shell").median(), get("baseshell").median(); shell > 0 || baseShell > 0 {
		t.add("shell loop ≥ 0.9 × base's", fmt.Sprintf("%.0f vs %.0f/s (%s)", shell, baseShell, ratio(shell, baseShell)),
			baseShell > 0 && shell >= 0.9*baseShell)
	}
}

// perRound returns s's rate over base's (the floor's, or the unbounded
// row's), round by round, for the rounds where both completed. The runs
// of one round are minutes apart at most, so a slow spell of this shared
// machine weighs on both, and the spread of these ratios shows how far
// such spells move a row's × floor, or the bound's cost.
func perRound(s, base *series) []float64 {
	var r []float64
	for i, round := range s.rounds {
		if j := slices.Index(base.rounds, round); j >= 0 && base.rates[j] > 0 {
			r = append(r, s.rates[i]/base.rates[j])
		}
	}
	return r
}

// printRounds shows, for each row of the floor's intake, its × floor in
// every round, lowest first.
func (b *bench) printRounds(all []*series, floor *series) {
	if len(floor.rates) == 0 || b.runs < 2 {
		return
	}
	fmt.Printf("× floor round by round: each run against the floor of its own round, lowest first\n\n")
	for _, s := range all {
		if s == floor || s.sys.n != floor.sys.n {
			continue
		}
		r := perRound(s, floor)
		if len(r) == 0 {
			continue
		}
		fmt.Printf("  %-31s %s   (median %.2f×)\n", s.sys.name,
			lowestFirst(r, func(x float64) string { return fmt.Sprintf("%.2f", x) }), median(r))
	}
	fmt.Println()
}

// lowestFirst sorts r and shows each of its values with show.
func lowestFirst(r []float64, show func(float64) string) string {
	slices.Sort(r)
	parts := make([]string, len(r))
	for i, x := range r {
		parts[i] = show(x)
	}
	return strings.Join(parts, " ")
}

func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	if r := a / b; r < 0.1 {
		return fmt.Sprintf("%.2g×", r)
	}
	return fmt.Sprintf("%.2f×", a/b)
}

// cpuPerMessage shows each process's user+system CPU time and context
// switches per message.
func cpuPerMessage(r result, n int) string {
	var parts []string
	for _, s := range r.stages {
		parts = append(parts, fmt.Sprintf("%s %.1f/%.2f", s.name,
			float64((s.user+s.sys)/time.Nanosecond)/1e3/float64(n), float64(s.switches)/float64(n)))
	}
	return strings.Join(parts, ", ")
}

// perMessage returns the CPU time (user+system, µs) and the context
// switches of all the run's processes together, per message.
func perMessage(r result, n int) (cpu, switches float64) {
	var d time.Duration
	var sw int64
	for _, s := range r.stages {
		d += s.user + s.sys
		sw += s.switches
	}
	return float64(d/time.Nanosecond) / 1e3 / float64(n), float64(sw) / float64(n)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
