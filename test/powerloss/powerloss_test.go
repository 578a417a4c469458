// Package powerloss cuts the power under a running pipeline and accounts
// for every message: what survives a system crash, where the kill -9 of
// the torture test and the crash test's SIGKILL keep everything the
// kernel already has.
//
// The disks are FUSE file systems in the test process (fuse_test.go),
// whose model (model_test.go) keeps which changes are durable. A cut
// stops the disks, kills the pipeline, and puts back on each disk only
// what survived; then mdclaim -r and the pipeline run again, and the
// oracle (oracle_test.go) looks for every message in the queue or the
// list manager's store.
//
//	POWERLOSS_CUTS=N     the number of cuts (default 12; make powerloss: 60)
//	POWERLOSS_LIE=queue  the queue's disk ignores fsyncs of directories:
//	                     mail is lost, and the test must fail
//	POWERLOSS_SEED=S     the random choices of an earlier run
//
// It needs root and /dev/fuse, and skips without them (under CI=true:
// fails).
package powerloss

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

var bin string

func TestMain(m *testing.M) { testkit.MainBuilt(m, &bin) }

// perTrial is how many messages a trial's intake holds.
const perTrial = 6

// batchSteps come once per batch, not once per message: their cut
// point is the first.
var batchSteps = []string{"subqueue-made", "tmp-dir-synced", "new-synced", "cur-synced"}

type cutPoint struct {
	h    handoff
	step string
}

// plan lists every step of every hand-off path, the first step of each
// path, then the second, and so on: fsync trials go through it in turn,
// so that a short run cuts every path, and POWERLOSS_CUTS >= its length
// (with the -s trials, a fifth more) cuts at each step at least once.
func plan() []cutPoint {
	var ps []cutPoint
	for k := 0; len(ps) < len(copySteps)*len(handoffs); k++ {
		more := false
		for _, h := range handoffs {
			if k < len(h.steps) {
				ps = append(ps, cutPoint{h, h.steps[k]})
				more = true
			}
		}
		if !more {
			break
		}
	}
	return ps
}

func envInt(t *testing.T, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		t.Fatalf("%s=%q: not a count", name, s)
	}
	return n
}

func TestPowerLoss(t *testing.T) {
	testkit.NeedRoot(t, "to mount the FUSE file systems that simulate the disks")
	if _, err := os.Stat("/dev/fuse"); err != nil {
		testkit.SkipMissing(t, "no /dev/fuse: %v", err)
	}
	cuts := envInt(t, "POWERLOSS_CUTS", 12)
	lie := os.Getenv("POWERLOSS_LIE")
	if lie != "" && lie != "queue" {
		t.Fatalf("POWERLOSS_LIE=%q: the only lie is queue", lie)
	}
	seed := uint64(envInt(t, "POWERLOSS_SEED", int(time.Now().UnixNano()%1e9)))
	r := rand.New(rand.NewPCG(seed, 0))
	points := plan()

	var sum, nosync outcome
	var fsyncCuts, nosyncCuts int
	hit := map[string]int{}
	lostBy := map[string]int{} // fsync trials
	nosyncLostBy := map[string]int{}
	start := time.Now()
	for i := range cuts {
		tr := &trial{no: i, r: r, bin: bin, lie: lie != ""}
		if i%5 == 4 {
			tr.nosync = true
			tr.h = handoffs[(i/5)%len(handoffs)]
			tr.anyAt = r.IntN(80) + 1
		} else {
			cp := points[(i-i/5)%len(points)]
			tr.h, tr.step, tr.nth = cp.h, cp.step, r.IntN(perTrial)+1
			if slices.Contains(batchSteps, cp.step) {
				tr.nth = 1
			}
		}
		o := playOne(t, tr)
		what := fmt.Sprintf("cut %d (%s, at %s; kept %d more changes", i, tr.h.name, tr.cutAt, tr.kept)
		if tr.nosync {
			what += "; -s"
		}
		what += ")"
		for _, e := range tr.errs {
			t.Errorf("%s: %s", what, e)
		}
		if tr.nosync {
			nosyncCuts++
			add(&nosync, o)
			nosyncLostBy[tr.h.name] += o.lost
			for _, n := range o.notes {
				t.Logf("%s: %s", what, n)
			}
			continue
		}
		fsyncCuts++
		hit[tr.h.name+" "+tr.cutAt]++
		lostBy[tr.h.name] += o.lost
		add(&sum, o)
		for _, n := range o.notes {
			if lie != "" {
				t.Logf("%s: %s", what, n)
			} else {
				t.Errorf("%s: %s", what, n)
			}
		}
	}

	var missed []string
	for _, cp := range points {
		if hit[cp.h.name+" "+cp.step] == 0 {
			missed = append(missed, cp.h.name+" "+cp.step)
		}
	}
	if fsyncCuts >= len(points) && len(missed) > 0 {
		t.Errorf("cut points never reached: %s", strings.Join(missed, ", "))
	}
	if len(missed) == 0 {
		fmt.Printf("powerloss: all %d cut points reached\n", len(points))
	} else {
		fmt.Printf("powerloss: %d cut points, %d reached; not: %s\n", len(points), len(points)-len(missed), strings.Join(missed, ", "))
	}
	fmt.Printf("powerloss: with fsync: cuts=%d messages=%d lost=%d (%s) duplicated=%d admitted=%d\n",
		fsyncCuts, sum.messages, sum.lost, byPath(lostBy), sum.dup, sum.admitted)
	if nosyncCuts > 0 {
		fmt.Printf("powerloss: -s: cuts=%d messages=%d lost=%d (%s) duplicated=%d admitted=%d\n",
			nosyncCuts, nosync.messages, nosync.lost, byPath(nosyncLostBy), nosync.dup, nosync.admitted)
	}
	fmt.Printf("powerloss: cuts=%d messages=%d lost=%d duplicated=%d admitted=%d stranded=%d nosync_cuts=%d nosync_lost=%d lie=%s seed=%d time=%s\n",
		cuts, sum.messages+nosync.messages, sum.lost, sum.dup, sum.admitted, sum.stranded+nosync.stranded,
		nosyncCuts, nosync.lost, orNone(lie), seed, time.Since(start).Round(time.Second))
	if lie != "" && sum.lost == 0 {
		t.Errorf("POWERLOSS_LIE=%s: the queue's disk ignored every fsync of its directories, and the harness found no loss", lie)
	}
	if lie != "" && sum.lost > 0 {
		t.Errorf("POWERLOSS_LIE=%s: %d messages lost, as a disk that ignores fsyncs loses them", lie, sum.lost)
	}
}

func byPath(n map[string]int) string {
	var by []string
	for _, h := range handoffs {
		by = append(by, fmt.Sprintf("%s=%d", h.name, n[h.name]))
	}
	return strings.Join(by, " ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func add(sum *outcome, o outcome) {
	sum.messages += o.messages
	sum.lost += o.lost
	sum.dup += o.dup
	sum.admitted += o.admitted
	sum.stranded += o.stranded
}

// playOne runs a trial in a directory of its own, and removes it.
func playOne(t *testing.T, tr *trial) outcome {
	var err error
	if tr.root, err = os.MkdirTemp("", "mdpipe-powerloss-"); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tr.root)
	if err := tr.setup(perTrial); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, d := range []*disk{tr.a, tr.b} {
			d.unmount()
		}
	}()
	if tr.h.target == "lmtp" {
		var stop func()
		tr.lmtp, stop = startLMTP(t)
		defer stop()
	}
	if err := tr.play(); err != nil {
		t.Fatalf("cut %d (%s): %v", tr.no, tr.h.name, err)
	}
	o, err := tr.account()
	if err != nil {
		t.Fatalf("cut %d (%s): %v", tr.no, tr.h.name, err)
	}
	return o
}
