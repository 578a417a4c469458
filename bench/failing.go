package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// failingList is the isolation row: one list of the 50 whose hand-off
// fails temporarily must not hold up the others. A service pipeline,
// mdclaim -f -k 64 | mdroute | mdsweep -c | mdfail, works a backlog of
// b.nFail messages; the command reads the message and exits 0, except
// in the failing run, where it exits 111 (temporary) for one list. Each
// run ends when the 49 other lists' messages are all handed off, or at a
// deadline: 1.5 times what the run without the failure just took for
// them, and a second, which leaves room to see a ratio down to 0.67. A
// hand-off that blocks on the failing list ends the row with "not met"
// and what it got; it never hangs it. Runs with and without
// the failure alternate, and with -base the base build's runs are
// interleaved with them.
func (b *bench) failingList(t *targets) {
	msgs := b.gen.messages(b.nFail)
	failing := b.gen.lists[0]
	others := 0
	for _, m := range msgs {
		if list, _, _ := strings.Cut(m.dest, "/"); list != failing {
			others++
		}
	}
	fmt.Printf("One list failing: %d messages to 50 lists, mdclaim -f -k 64 | mdroute | mdsweep -c | mdfail; the command\nexits 111 for every message to %s in the failing runs; the other 49 lists' %d messages (msg/s)\n\n",
		b.nFail, failing, others)
	builds := []struct{ name, bin string }{{"mdpipe", b.bin}}
	if b.base != "" {
		builds = append(builds, struct{ name, bin string }{"base", b.base})
	}
	type rates struct{ clean, failing []float64 }
	got := make([]rates, len(builds))
	var notes []string
	for run := 1; run <= b.runs; run++ {
		for i, bl := range builds {
			clean, err := b.measureFailing(bl.bin, msgs, failing, others, false, failDeadline)
			if err != nil {
				progress("run %d/%d %s, no failure: %v", run, b.runs, bl.name, err)
				notes = append(notes, fmt.Sprintf("FAILED %s, no failure: %v", bl.name, err))
				continue
			}
			progress("run %d/%d %s, no failure: %.0f msg/s", run, b.runs, bl.name, clean.rate)
			deadline := clean.took*3/2 + time.Second
			f, err := b.measureFailing(bl.bin, msgs, failing, others, true, deadline)
			if err != nil {
				progress("run %d/%d %s, one list failing: %v", run, b.runs, bl.name, err)
				notes = append(notes, fmt.Sprintf("FAILED %s, one list failing: %v", bl.name, err))
				continue
			}
			progress("run %d/%d %s, one list failing: %.0f msg/s", run, b.runs, bl.name, f.rate)
			got[i].clean = append(got[i].clean, clean.rate)
			got[i].failing = append(got[i].failing, f.rate)
			if f.done < others {
				notes = append(notes, fmt.Sprintf("%s run %d: stopped at the deadline, %v: %d of %d handed off; the stop took %s, left %d claimed, %d in new/",
					bl.name, run, deadline.Round(time.Millisecond), f.done, others, ms(f.stop), f.left, f.waiting))
			}
		}
	}
	fmt.Printf("%-8s %12s %12s %8s\n", "build", "no failure", "one failing", "×")
	for i, bl := range builds {
		c, f := median(got[i].clean), median(got[i].failing)
		fmt.Printf("%-8s %12.0f %12.0f %8s\n", bl.name, c, f, share(f, c))
	}
	for _, n := range notes {
		fmt.Printf("  %s\n", n)
	}
	fmt.Printf("\nMedians of the runs that completed. A failing run that reached its deadline counts what it\nhanded off by then.\n\n")
	c, f := median(got[0].clean), median(got[0].failing)
	t.add("one list of 50 failing: others ≥ 0.9 × no failure", fmt.Sprintf("%s (%.0f vs %.0f/s)", share(f, c), f, c), c > 0 && f >= 0.9*c)
}

// share is ratio, but shows a rate of 0 against a real one as 0×: the
// others blocked outright.
func share(f, c float64) string {
	if f == 0 && c > 0 {
		return "0×"
	}
	return ratio(f, c)
}

// failDeadline bounds a run without the failure: longer is a hang.
const failDeadline = 10 * time.Minute

type failRun struct {
	done          int           // the other lists' messages handed off
	took          time.Duration // until the last of them, or the deadline
	rate          float64       // done / took
	stop          time.Duration // SIGTERM to the last stage's exit
	left, waiting int           // claims in cur/, messages in new/ after the stop
}

// measureFailing runs the service pipeline of bin over msgs until the
// others messages not to failing are handed off, or deadline, and then
// stops it as a supervisor does.
func (b *bench) measureFailing(bin string, msgs []message, failing string, others int, fail bool, deadline time.Duration) (failRun, error) {
	var res failRun
	dir := filepath.Join(b.root, "failing")
	defer os.RemoveAll(dir)
	intake, log := filepath.Join(dir, "intake"), filepath.Join(dir, "taken")
	if err := writeIntake(intake, msgs); err != nil {
		return res, err
	}
	// One byte a message handed off to the other lists: the bench
	// counts them by the log's size. The same work in both runs but the
	// exit status.
	exit := 0
	if fail {
		exit = 111
	}
	cmd := fmt.Sprintf(`cat >/dev/null; case $LIST in %s) exit %d;; esac; echo >>"$MDBENCH_TAKEN"`, failing, exit)
	tool := func(name string) string { return filepath.Join(bin, name) }
	p, err := startPipeline([][]string{{tool("mdclaim"), "-f", "-k", "64", intake}, {tool("mdroute")},
		{tool("mdsweep"), "-c", cmd}, {tool("mdfail")}}, cleanEnv("MDBENCH_TAKEN="+log))
	if err != nil {
		return res, err
	}
	exited := make(chan error, 1)
	go func() {
		_, err := p.wait(deadline + slowStopLimit)
		exited <- err
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var early error
wait:
	for {
		select {
		case err := <-exited:
			// A follow pipeline ends only when stopped.
			early = fmt.Errorf("the pipeline ended by itself: %v", err)
			break wait
		case <-tick.C:
		}
		res.done = int(fileSize(log))
		res.took = time.Since(p.start)
		if res.done >= others || res.took >= deadline {
			break wait
		}
	}
	start := time.Now()
	if early == nil {
		for _, c := range p.cmds {
			c.Process.Signal(syscall.SIGTERM)
		}
		<-exited
	}
	res.stop = time.Since(start)
	res.left = countSuffix(filepath.Join(intake, "cur"), ":1,P")
	res.waiting = countSuffix(filepath.Join(intake, "new"), "")
	if res.took > 0 {
		res.rate = float64(res.done) / res.took.Seconds()
	}
	if early != nil {
		return res, early
	}
	if !fail && res.done < others {
		return res, fmt.Errorf("%d of %d handed off in %v", res.done, others, res.took)
	}
	return res, nil
}
