package tool

import (
	"fmt"
	"mdpipe/internal/testkit"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestFourPipelines runs four streaming pipelines at once over one intake
// of 2,000 messages: the claims race, and every message must still be
// handed off exactly once (mdpipe(7), RULES: exactly once), none parked.
func TestFourPipelines(t *testing.T) {
	t.Parallel()
	const messages, pipelines = 2000, 4
	dir, maildir, queue := emptyIntake(t)
	ds := generate(t, maildir, messages)
	makeLists(t, queue, ds)

	// Each pipeline keeps what its mdclaim printed, and each tool's exit
	// status, in its own directory.
	script := `
		{ mdclaim "$MAILDIR"; echo $? >mdclaim.rc; } | tee claimed |
		{ mdroute; echo $? >mdroute.rc; } |
		{ mdsweep -q "$QUEUE"; echo $? >mdsweep.rc; } |
		{ mdfail; echo $? >mdfail.rc; }`
	var wg sync.WaitGroup
	outs := make([]strings.Builder, pipelines)
	errs := make([]error, pipelines)
	for i := range pipelines {
		pdir := filepath.Join(dir, fmt.Sprint("p", i))
		if err := os.Mkdir(pdir, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := shellCmd(t, pdir, script, "MAILDIR="+maildir, "QUEUE="+queue)
		cmd.Stdout, cmd.Stderr = &outs[i], &outs[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = cmd.Run()
		}()
	}
	wg.Wait()

	claimed := make(map[string]int)
	var perPipeline []int
	for i := range pipelines {
		pdir := filepath.Join(dir, fmt.Sprint("p", i))
		if errs[i] != nil || outs[i].Len() > 0 {
			t.Errorf("pipeline %d: %v, output:\n%s", i, errs[i], outs[i].String())
		}
		st := statuses(t, pdir, "mdclaim", "mdroute", "mdsweep", "mdfail")
		// A pipeline may find nothing left to claim (1): the others won.
		if st["mdclaim"] != "0" && st["mdclaim"] != "1" || st["mdroute"] != "0" || st["mdsweep"] != "0" || st["mdfail"] != "0" {
			t.Errorf("pipeline %d exit statuses: %s", i, fmtStatuses(st))
		}
		b, err := os.ReadFile(filepath.Join(pdir, "claimed"))
		if err != nil {
			t.Fatal(err)
		}
		l := lines(string(b))
		perPipeline = append(perPipeline, len(l))
		for _, p := range l {
			claimed[p]++
		}
	}
	t.Logf("claims per pipeline: %v", perPipeline)
	if len(claimed) != messages {
		t.Errorf("%d distinct claims, want %d", len(claimed), messages)
	}
	for p, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times", p, n)
		}
	}
	checkQueue(t, queue, ds)
	checkIntake(t, maildir, nil)
}

// generate delivers n messages into maildir's new/, spread over a few
// lists and subqueues, every tenth one to two lists at once (an Exim
// batch), and returns where each must go.
func generate(t *testing.T, maildir string, n int) []delivery {
	t.Helper()
	rcpts := []string{
		"mylist@lists.example.test", "mylist-request@lists.example.test",
		"mylist-bounces+alice=example.org@lists.example.test",
		"foo-bar@lists.example.test", "foo-bar-join@lists.example.test",
		"other-owner@lists.example.test", "Other@Lists.Example.TEST",
	}
	ds := make([]delivery, 0, n)
	for i := range n {
		to := []string{rcpts[i%len(rcpts)]}
		if i%10 == 0 {
			to = append(to, rcpts[(i+3)%len(rcpts)])
		}
		base := fmt.Sprintf("1795900000.M%06dP%d.gen.example.test", i, 4000+i)
		msg := fmt.Sprintf("Return-path: <sender@example.org>\nEnvelope-to: %s\n"+
			"Subject: message %d\n\nbody %d\n", strings.Join(to, ",\n "), i, i)
		testkit.WriteFile(t, filepath.Join(maildir, "new", base), msg)
		d := delivery{file: base, base: base}
		for _, a := range to {
			d.dests = append(d.dests, expectedDest(a))
		}
		slices.Sort(d.dests)
		d.dests = slices.Compact(d.dests)
		ds = append(ds, d)
	}
	return ds
}
