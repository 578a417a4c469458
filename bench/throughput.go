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
	sys   system
	rates []float64 // messages per second of each successful run
	runs  []result
	errs  []error
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
	if err := writeIntake(intake, msgs); err != nil {
		return 0, result{}, err
	}
	if err := makeQueues(queue, b.gen.lists); err != nil {
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
	floor := all[0].median()
	fmt.Printf("Throughput: median of %d interleaved runs, each on a fresh intake (messages/second)\n\n", b.runs)
	fmt.Printf("%-31s %7s %9s %9s %9s %8s   %s\n", "system", "intake", "median", "min", "max", "× floor", "per process: CPU µs / context switches per message (median run)")
	for _, s := range all {
		if len(s.rates) == 0 {
			fmt.Printf("%-31s %7d   all runs failed\n", s.sys.name, s.sys.n)
			continue
		}
		fmt.Printf("%-31s %7d %9.0f %9.0f %9.0f %8s   %s\n", s.sys.name, s.sys.n, s.median(),
			slices.Min(s.rates), slices.Max(s.rates), ratio(s.median(), floor), cpuPerMessage(s.medianRun(), s.sys.n))
	}
	for _, s := range all {
		for _, err := range s.errs {
			fmt.Printf("FAILED %s: %v\n", s.sys.name, err)
		}
	}
	fmt.Printf("\nRates are messages / wall-clock time of a run, from an intake in new/ (written and\nsynced before the clock starts) to every message in QUEUE/LIST/SUBQUEUE (which exist\nalready, as on a running site). The shell loop and fork-per-message start processes\nper message: their smaller intakes are in the intake column; sh's figures include its\nchildren. The floor is one Go process doing only the unavoidable system calls.\n\n")
	on, off, fork := all[1].median(), all[2].median(), all[4].median()
	t.add("stream, fsync off ≥ 0.5 × floor", ratio(off, floor), floor > 0 && off >= 0.5*floor)
	t.add("stream, fsync on ≥ 0.3 × floor", ratio(on, floor), floor > 0 && on >= 0.3*floor)
	// Like for like: the wrapper does not fsync either (Mailman 2.1's
	// SYNC_AFTER_WRITE is off by default); fsync on is shown beside it.
	t.add("stream ≥ 500 × fork-per-message", fmt.Sprintf("%s (fsync on %s)", ratio(off, fork), ratio(on, fork)), fork > 0 && off >= 500*fork)
	if len(all) < 9 {
		return
	}
	// Issue 12: the streaming rows keep their ratio to the floor, within
	// 10% of the base build's (the floor is the same run's, so this
	// compares the rates); the bounded drain is shown against it too.
	baseOn, baseOff := all[7].median(), all[8].median()
	for _, c := range []struct {
		name     string
		rate     float64
		base     float64
		fsyncOff bool
	}{
		{"stream", on, baseOn, false}, {"stream", off, baseOff, true},
		{"stream -k 64", all[5].median(), baseOn, false}, {"stream -k 64", all[6].median(), baseOff, true},
	} {
		fsync := map[bool]string{false: "fsync on", true: "fsync off"}[c.fsyncOff]
		t.add(fmt.Sprintf("%s, %s ≥ 0.9 × base's (× floor)", c.name, fsync),
			fmt.Sprintf("%s vs %s (%+.0f%%)", ratio(c.rate, floor), ratio(c.base, floor), 100*(c.rate/c.base-1)),
			c.base > 0 && c.rate >= 0.9*c.base)
	}
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

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
