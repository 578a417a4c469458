// Package torture runs mdpipe the way a site does, streaming pipelines
// over one intake maildir, while a chaos loop kill -9's their stages, and
// then accounts for every message (mdpipe(7), RULES: exactly once): each must be in exactly one
// queue, none parked, none stranded, none lost, none twice.
//
// The default is a short run for `make test`; `make torture` runs the
// full ones:
//
//	go test ./test/torture -args -torture.n=20000 -torture.pipes=4
package torture

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	flagN     = flag.Int("torture.n", 2000, "messages to deliver")
	flagPipes = flag.Int("torture.pipes", 4, "streaming pipelines sharing the intake")
	flagRate  = flag.Int("torture.rate", 0, "messages per second the writer delivers (0: n/3 for short runs, 1000 per pipeline otherwise)")
	flagQueue = flag.String("torture.queue", "", "make the queue under this directory (e.g. /dev/shm: hand-offs across file systems)")
	flagPause = flag.Bool("torture.pause", true, "also pause (SIGSTOP) pipelines for longer than -r")
	flagKeep  = flag.Bool("torture.keep", false, "log where the logs of the pipelines are, and keep them")
)

func TestTorture(t *testing.T) {
	n, pipes := *flagN, *flagPipes
	rate := *flagRate
	if rate <= 0 {
		rate = max(n/3, 1)
		if n > 2000 {
			rate = 250 * pipes
		}
	}
	root := t.TempDir()
	intake := filepath.Join(root, "intake")
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(intake, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	queueParent := root
	if *flagQueue != "" {
		var err error
		if queueParent, err = os.MkdirTemp(*flagQueue, "mdpipe-torture"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(queueParent) })
	}
	queue := filepath.Join(queueParent, "queue")
	makeLists(t, queue)
	if err := openUp(root, intake, queue); err != nil {
		t.Fatal(err)
	}
	logDir := root
	if *flagKeep {
		var err error
		if logDir, err = os.MkdirTemp("", "mdpipe-torture-logs"); err != nil {
			t.Fatal(err)
		}
		t.Logf("logs in %s", logDir)
	}

	start := time.Now()
	errs := make(chan error, pipes+1)
	ps := make([]*pipeline, pipes)
	for i := range ps {
		ps[i] = newPipeline(i, intake, queue, logDir)
		go ps[i].supervise(errs)
	}
	t.Cleanup(func() {
		for _, p := range ps {
			p.abort()
		}
		for _, p := range ps {
			<-p.done
		}
	})

	written := make(chan error, 1)
	go func() { written <- deliver(intake, n, rate) }()
	stopFailing, failed := make(chan struct{}), make(chan int, 1)
	go func() { failed <- failLists(queue, stopFailing) }()
	kills := chaos(ps, written, errs)
	close(stopFailing)
	failures := <-failed
	if err := <-written; err != nil {
		t.Fatalf("writer: %v", err)
	}
	writeTime := time.Since(start)

	// The pipelines alone, with their -r 2s, must drain the intake: the
	// claims the kills stranded come back once they are 2 s old.
	drainDeadline := 60*time.Second + time.Duration(n)*2*time.Millisecond
	drained := waitDrained(intake, junkIn(n), drainDeadline)
	drainTime := time.Since(start)

	stuckOnStop := 0
	for _, p := range ps {
		if !p.stop(10 * time.Second) {
			stuckOnStop++
		}
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}

	// One final recovery pass over what the stop left claimed.
	final := finalPass(t, intake, queue)

	a, err := account(intake, queue, n)
	if err != nil {
		t.Fatal(err)
	}
	stuck, starts := 0, 0
	for _, p := range ps {
		stuck += p.stuck
		starts += p.starts
		for _, l := range p.stuckLog {
			t.Log(l)
		}
	}
	t.Logf("writer done after %v; intake drained by the pipelines: %v after %v; "+
		"kills %v; restarts %d; pipelines stuck after a kill %d, after SIGTERM %d; lists failing for a while %d times",
		writeTime.Round(time.Millisecond), drained, drainTime.Round(time.Millisecond),
		kills, starts-pipes, stuck, stuckOnStop, failures)
	if final != "" {
		t.Logf("final pass: %s", final)
	}
	logSummary(t, logDir, pipes)
	for _, p := range a.problems {
		t.Error(p)
	}
	if !a.ok() {
		t.Errorf("accounting: %v", a)
	}
	if !drained {
		t.Errorf("the pipelines did not drain the intake within %v", drainDeadline)
	}
	if stuck > 0 || stuckOnStop > 0 {
		t.Errorf("stages that outlived their pipeline: %d after a kill, %d after SIGTERM", stuck, stuckOnStop)
	}
	verdict := "ok"
	if t.Failed() {
		verdict = "FAIL"
	}
	fmt.Printf("torture accounting: %s pipelines=%d %v poison(%s) kills=%d pauses=%d list-failures=%d wall=%v\n",
		verdict, pipes, a, poisonCounts(n), kills.total(), kills.pauses, failures, time.Since(start).Round(100*time.Millisecond))
}

// kills counts the chaos loop's kills by stage, and its pauses.
type kills struct {
	stage  [4]int
	pauses int
}

func (k kills) total() int { return k.stage[0] + k.stage[1] + k.stage[2] + k.stage[3] }

func (k kills) String() string {
	return fmt.Sprintf("mdclaim %d, mdroute %d, mdsweep %d, mdfail %d; pauses %d",
		k.stage[0], k.stage[1], k.stage[2], k.stage[3], k.pauses)
}

// chaos kill -9's a random stage of a random pipeline every 50-200 ms
// until the writer is done; the pipeline's supervisor restarts it. One
// time in twenty it pauses a whole pipeline past the -r age instead.
func chaos(ps []*pipeline, written chan error, errs chan error) kills {
	var k kills
	for {
		select {
		case err := <-written:
			written <- err
			return k
		case err := <-errs:
			errs <- err
			return k
		case <-time.After(time.Duration(50+rand.IntN(151)) * time.Millisecond):
		}
		p := ps[rand.IntN(len(ps))]
		if *flagPause && rand.IntN(20) == 0 {
			if p.pause(time.Duration(2500+rand.IntN(1000)) * time.Millisecond) {
				k.pauses++
			}
			continue
		}
		if s := p.kill(rand.IntN(4)); s >= 0 {
			k.stage[s]++
		}
	}
}

// waitDrained polls until the intake holds no message, no claim and no
// deferred message.
func waitDrained(intake string, junk map[string]bool, deadline time.Duration) bool {
	end := time.Now().Add(deadline)
	for time.Now().Before(end) {
		cur := filepath.Join(intake, "cur")
		if onlyJunk(filepath.Join(intake, "new"), junk) && noClaims(cur) && noDeferred(cur) {
			return true
		}
		time.Sleep(100 * time.Millisecond) // polling a condition, with a deadline
	}
	return false
}

// onlyJunk reports whether dir holds nothing but the junk entries.
func onlyJunk(dir string, junk map[string]bool) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !junk[e.Name()] {
			return false
		}
	}
	return true
}

func noClaims(cur string) bool {
	ents, err := os.ReadDir(cur)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ":1,P") {
			return false
		}
	}
	return true
}

// finalPass runs one finite pipeline that first returns every claim (no
// process is left to hold one) and hands off what is left. It returns a
// note on what it did, "" if it had nothing to do.
func finalPass(t *testing.T, intake, queue string) string {
	sh := fmt.Sprintf("%s/mdclaim -r 1ms '%s' | %s/mdroute | %s/mdsweep -q '%s' | %s/mdfail",
		bin, intake, bin, bin, queue, bin)
	out, err := exec.Command("/bin/sh", "-c", sh).CombinedOutput()
	if err != nil {
		t.Errorf("final pass: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// logSummary shows how many log lines of each kind the pipelines wrote,
// and a few lines of the kinds a torture run should not cause.
func logSummary(t *testing.T, logDir string, pipes int) {
	counts := map[string]int{}
	var odd []string
	for i := 0; i < pipes; i++ {
		b, err := os.ReadFile(filepath.Join(logDir, fmt.Sprintf("pipeline%d.log", i)))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if line == "" {
				continue
			}
			kind := logKind(line)
			counts[kind]++
			if kind == "other" && len(odd) < 10 {
				odd = append(odd, line)
			}
		}
	}
	t.Logf("pipeline log lines by kind: %v", counts)
	for _, l := range odd {
		t.Logf("log: %s", l)
	}
}

// logKind sorts the log lines a kill is expected to cause from the rest.
func logKind(line string) string {
	switch {
	case strings.Contains(line, "returned '") && strings.Contains(line, "to new/"):
		return "recovered"
	case strings.Contains(line, "has exited"), strings.Contains(line, "broken pipe"):
		return "downstream gone"
	case strings.Contains(line, "mdsweep: deferred until"):
		return "deferred"
	}
	return "other"
}
