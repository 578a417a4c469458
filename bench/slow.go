package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// slowHandoff is the slow hand-off row (bounded claims, shared fairly,
// a clean stop): two runners, each mdclaim -f | mdroute | mdsweep -c |
// mdfail with a command that takes 50 ms a message (the pace of Mailman
// 3's LMTP runner), share a backlog of b.nSlow messages for b.slowFor,
// the second started once the first has handed off one. It prints the
// peak of the claims held (the :1,P files in cur/, sampled), each
// runner's share of the messages handed off, the time from SIGTERM to
// every stage of both pipelines (a supervisor signals a service's
// process group) to the last stage's exit, and what the stop left in
// cur/.
func (b *bench) slowHandoff(t *targets) {
	fmt.Printf("Slow hand-off: %d messages, two runners (the second joins the first), mdsweep -c taking 50 ms a message, for %v, then SIGTERM to every stage\n\n", b.nSlow, b.slowFor)
	res, err := b.measureSlow()
	if err != nil {
		fmt.Printf("  FAILED: %v\n\n", err)
		t.add("slow hand-off: peak claims ≤ 64 a runner", "failed", false)
		return
	}
	total := res.taken[0] + res.taken[1]
	share := func(i int) float64 {
		if total == 0 {
			return 0
		}
		return 100 * float64(res.taken[i]) / float64(total)
	}
	stop := ms(res.stop)
	if res.killed {
		stop = "> " + stop + " (killed)"
	}
	fmt.Printf("  peak claims held %d (both runners); handed off %d: runner 1 %.0f%%, runner 2 %.0f%%\n", res.peak, total, share(0), share(1))
	fmt.Printf("  SIGTERM to the last stage's exit %s (mdclaim: %s); claims left in cur/ %d, in new/ %d\n\n", stop, ms(res.claimStop), res.left, res.waiting)
	t.add("slow hand-off: peak claims ≤ 2 × 64", fmt.Sprint(res.peak), res.peak <= 128)
	t.add("slow hand-off: each runner 40-60%", fmt.Sprintf("%.0f%% / %.0f%%", share(0), share(1)), share(0) >= 40 && share(0) <= 60)
	t.add("slow hand-off: stop leaves no claim", fmt.Sprintf("%d left, stop %s", res.left, stop), res.left == 0 && !res.killed)
}

type slowResult struct {
	peak            int
	taken           [2]int
	stop, claimStop time.Duration
	killed          bool
	left, waiting   int
}

// slowStopLimit bounds the wait for a stop: longer is a stop that hangs.
const slowStopLimit = 60 * time.Second

func (b *bench) measureSlow() (slowResult, error) {
	var res slowResult
	dir := filepath.Join(b.root, "slow")
	defer os.RemoveAll(dir)
	intake := filepath.Join(dir, "intake")
	if err := writeIntake(intake, b.gen.messages(b.nSlow)); err != nil {
		return res, err
	}
	var pipes []*pipeline
	var logs []string
	for i := range 2 {
		log := filepath.Join(dir, fmt.Sprintf("taken.%d", i))
		logs = append(logs, log)
		cmd := "sleep 0.05; cat >/dev/null; echo >>" + log
		p, err := startPipeline([][]string{{b.tool("mdclaim"), "-f", intake}, {b.tool("mdroute")},
			{b.tool("mdsweep"), "-c", cmd}, {b.tool("mdfail")}}, cleanEnv())
		if err != nil {
			return res, err
		}
		pipes = append(pipes, p)
		// The second runner joins a running one, as a second host or a
		// restarted service does: the first has handed off a message,
		// and claimed what it could.
		for i == 0 && fileSize(log) == 0 && time.Since(p.start) < 10*time.Second {
			time.Sleep(10 * time.Millisecond)
		}
	}
	end := time.Now().Add(b.slowFor)
	for time.Now().Before(end) {
		res.peak = max(res.peak, countSuffix(filepath.Join(intake, "cur"), ":1,P"))
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	for _, p := range pipes {
		for _, c := range p.cmds {
			c.Process.Signal(syscall.SIGTERM)
		}
	}
	done := make(chan struct{})
	claimDone := make(chan struct{}, 2)
	go func() {
		for _, p := range pipes {
			go func() { p.cmds[0].Wait(); claimDone <- struct{}{} }()
		}
		for _, p := range pipes {
			for _, c := range p.cmds[1:] {
				c.Wait()
			}
		}
		close(done)
	}()
	timer := time.NewTimer(slowStopLimit)
	defer timer.Stop()
	got := 0
	for got < 2 {
		select {
		case <-claimDone:
			got++
			res.claimStop = time.Since(start)
		case <-timer.C:
			res.killed, got = true, 2
		}
	}
	if !res.killed {
		select {
		case <-done:
		case <-timer.C:
			res.killed = true
		}
	}
	res.stop = time.Since(start)
	if res.killed {
		for _, p := range pipes {
			for _, c := range p.cmds {
				c.Process.Kill()
			}
		}
		<-done
	}
	for _, p := range pipes {
		close(p.stopHWM)
		<-p.hwmDone
	}
	for i, l := range logs {
		bs, _ := os.ReadFile(l)
		res.taken[i] = strings.Count(string(bs), "\n")
	}
	res.left = countSuffix(filepath.Join(intake, "cur"), ":1,P")
	res.waiting = countSuffix(filepath.Join(intake, "new"), "")
	return res, nil
}

// countSuffix counts the names in dir that end in suffix. It reads the
// directory in one getdents(2) call where it fits 1 MiB, which the
// kernel serves under the directory's lock: a count that spans calls
// can see a claim that left and the one that took its place.
func countSuffix(dir, suffix string) int {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0
	}
	defer unix.Close(fd)
	buf := make([]byte, 1<<20)
	n := 0
	for {
		got, err := unix.ReadDirent(fd, buf)
		if err != nil || got <= 0 {
			return n
		}
		_, _, names := unix.ParseDirent(buf[:got], -1, nil)
		for _, name := range names {
			if strings.HasSuffix(name, suffix) {
				n++
			}
		}
	}
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
