package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// scale drains a backlog of b.nBig messages with the floor and through
// the streaming pipeline, directory fsync on and then off, b.bigRuns
// times each, interleaved, and sets each system's median drain rate and
// each tool's peak RSS (wait4's ru_maxrss) next to those of
// 20,000-message runs made just before on the same machine. One drain of
// a million messages varies by a fifth from run to run on a shared
// machine: a single drain cannot tell 75% from 85%.
func (b *bench) scale(t *targets) {
	// The floor drains the same backlog: what a huge directory and a
	// cold page cache cost any intake runner, apart from mdpipe's own.
	streams := b.pickSystems("floor", "on", "off")
	refs := b.measure(streams, 3)
	bigs, err := b.drainBig(streams)
	fmt.Printf("Scale: draining a backlog\n\n")
	fmt.Printf("%-30s %-22s %7s %7s %7s   %s\n", "system", "backlog", "msg/s", "min", "max", "peak RSS by process; CPU µs / context switches per message (median run)")
	var floorRatio float64
	for i, s := range streams {
		ref := refs[i]
		scaleRow(ref, s.n)
		for _, err := range ref.errs {
			fmt.Printf("FAILED %d-message run: %v\n", s.n, err)
		}
		if i < len(bigs) {
			scaleRow(bigs[i], b.nBig)
			if i == 0 && ref.median() > 0 {
				floorRatio = bigs[i].median() / ref.median()
			}
		}
	}
	if err != nil {
		fmt.Printf("FAILED %d-message backlog: %v\n", b.nBig, err)
	}
	if floorRatio > 0 {
		fmt.Printf("\nThe floor itself drains the %s backlog at %.0f%% of its %s rate.\n",
			count(b.nBig), 100*floorRatio, count(streams[0].n))
	}
	fmt.Println()
	for i := 1; i < len(streams); i++ {
		goalRate := fmt.Sprintf("%s drains at ≥ 80%% of the %s rate, %s", count(b.nBig), count(streams[i].n),
			map[bool]string{true: "fsync off", false: "fsync on"}[i == 2])
		if i >= len(bigs) || len(bigs[i].rates) == 0 {
			t.add(goalRate, "failed", false)
			continue
		}
		rate, m := bigs[i].median(), refs[i].median()
		t.add(goalRate, fmt.Sprintf("%.0f%% (%.0f vs %.0f/s)", 100*rate/m, rate, m), m > 0 && rate >= 0.8*m)
	}
	var peak int64
	for i, s := range bigs {
		if i == 0 { // the floor, not mdpipe's tools
			continue
		}
		for _, r := range s.runs {
			peak = max(peak, maxRSS(r))
		}
	}
	t.add(fmt.Sprintf("every process ≤ 64 MiB RSS (%s backlog)", count(b.nBig)), fmt.Sprintf("max %.1f MiB", float64(peak)/(1<<20)), err == nil && peak <= 64<<20)
}

// scaleRow prints one line of the scale table: the runs of one system
// over a backlog of n messages.
func scaleRow(s *series, n int) {
	if len(s.rates) == 0 {
		return
	}
	fmt.Printf("%-30s %-22s %7.0f %7.0f %7.0f   %s; %s\n", s.sys.name, fmt.Sprintf("%d (median of %d)", n, len(s.rates)), s.median(),
		slices.Min(s.rates), slices.Max(s.rates), rss(s.runs), cpuPerMessage(s.medianRun(), n))
}

// drainBig writes the backlog (generated on the fly: a million messages
// do not fit in this process's memory budget) into a staging tree, and
// times b.bigRuns drains of each system over it, interleaved (A B C A B
// C ...). Before each drain, untimed, the backlog is renamed into new/:
// from the staging tree the first time, then from the queues the drain
// before left it in. So every drain starts from the same state. Writing
// straight into new/ made the first drain pay for the writing (the file
// system catching up on a million new inodes): the floor, drained first,
// lost half its rate.
func (b *bench) drainBig(systems []system) ([]*series, error) {
	dir := filepath.Join(b.root, "big")
	defer func() {
		progress("removing the %d-message backlog", b.nBig)
		os.RemoveAll(dir)
	}()
	intake, queue := filepath.Join(dir, "intake"), filepath.Join(dir, "queue")
	staging := filepath.Join(dir, "staging")
	if err := makeMaildir(intake); err != nil {
		return nil, err
	}
	if err := makeMaildir(filepath.Join(staging, "all", "post")); err != nil {
		return nil, err
	}
	if err := makeQueues(queue, b.gen.lists); err != nil {
		return nil, err
	}
	w := make(map[string]int)
	start := time.Now()
	for i := 0; i < b.nBig; i++ {
		m := b.gen.message(i)
		if err := writeFile(filepath.Join(staging, "all", "post", "new", m.name), m.data); err != nil {
			return nil, err
		}
		w[m.dest]++
		if (i+1)%100000 == 0 {
			progress("backlog: %d of %d written (%v)", i+1, b.nBig, time.Since(start).Round(time.Second))
		}
	}
	out := make([]*series, len(systems))
	for i, s := range systems {
		out[i] = &series{sys: s}
	}
	from := staging
	for run := 1; run <= b.bigRuns; run++ {
		for _, s := range out {
			progress("putting the backlog into new/")
			if err := putBack(from, filepath.Join(intake, "new")); err != nil {
				return out, err
			}
			from = queue
			if err := syncFS(dir); err != nil {
				return out, err
			}
			progress("run %d/%d, draining %d messages: %s", run, b.bigRuns, b.nBig, s.sys.name)
			res, err := s.sys.run(b, intake, queue)
			if err != nil {
				return out, err
			}
			progress("drained in %v; checking the queues", res.wall.Round(time.Millisecond))
			if err := verify(intake, queue, s.sys.layout, w); err != nil {
				return out, err
			}
			s.rates = append(s.rates, float64(b.nBig)/res.wall.Seconds())
			s.runs = append(s.runs, res)
		}
	}
	return out, nil
}

// putBack renames every message in QUEUE/*/*/new back into dst.
func putBack(queue, dst string) error {
	dirs, err := filepath.Glob(filepath.Join(queue, "*", "*", "new"))
	if err != nil {
		return err
	}
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return err
		}
		names, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return err
		}
		for _, n := range names {
			if err := os.Rename(filepath.Join(d, n), filepath.Join(dst, n)); err != nil {
				return err
			}
		}
	}
	return nil
}

// rss shows each process's peak RSS, the largest over runs.
func rss(runs []result) string {
	if len(runs) == 0 {
		return ""
	}
	var out string
	for i, s := range runs[0].stages {
		peak := s.maxRSS
		for _, r := range runs[1:] {
			if i < len(r.stages) {
				peak = max(peak, r.stages[i].maxRSS)
			}
		}
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s %.1f MiB", s.name, float64(peak)/(1<<20))
	}
	return out
}

func maxRSS(r result) int64 {
	var m []int64
	for _, s := range r.stages {
		m = append(m, s.maxRSS)
	}
	if len(m) == 0 {
		return 0
	}
	return slices.Max(m)
}

// count abbreviates a message count: 20k, 1M.
func count(n int) string {
	switch {
	case n >= 1e6 && n%1e6 == 0:
		return fmt.Sprintf("%dM", n/1e6)
	case n >= 1e3 && n%1e3 == 0:
		return fmt.Sprintf("%dk", n/1e3)
	}
	return fmt.Sprint(n)
}
