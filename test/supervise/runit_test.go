package supervise

import (
	"fmt"
	"mdpipe/internal/testkit"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// recoverAge is MDCLAIM_RECOVER in the runit test: short, so that the
// claims a dead stage stranded come back within the test.
const recoverAge = 2 * time.Second

// TestRunit runs examples/service/runit under runsv, with no init.
func TestRunit(t *testing.T) {
	needs(t, "runsv", "sv", "svlogd", "chpst")
	r := &runitService{site: newSite(t, "runit", map[string]string{"MDCLAIM_RECOVER": recoverAge.String()}),
		procs: seen{}}
	r.pidFile = filepath.Join(r.sv, "supervise", "pid")
	runsv := exec.Command("runsv", r.sv)
	runsv.Stdout, runsv.Stderr = os.Stderr, os.Stderr
	startSupervisor(t, runsv, func() { runsv.Process.Signal(syscall.SIGTERM) }, r.procs)
	r.started()

	r.cleanRun(1000)
	stranded, late := r.killWithClaims("mdroute", 50)
	for _, name := range []string{"mdclaim", "mdsweep", "mdfail"} {
		r.kill(name)
	}
	r.checkRestartLog(stranded, late)
	r.downInFlight(200)
	r.up()
	r.downWhileDeferred()
	r.up()
	r.hup()
}

// runitService is the service under runsv, and what the test expects of it.
type runitService struct {
	*site
	pidFile string
	service int            // mdpipe-service, runsv's child
	st      map[string]int // its stages
	procs   seen
	all     []string // every message that must reach a queue
}

// started waits for a pipeline that is not the one before, and records it.
func (r *runitService) started() {
	r.t.Helper()
	var pid int
	waitFor(r.t, 10*time.Second, func() (bool, string) {
		// runsv's pid file also names ./finish while it runs.
		pid = readPid(r.t, r.pidFile)
		return pid != r.service && testkit.Comm(pid) == "mdpipe-service",
			fmt.Sprintf("runsv runs pid %d (%s), not a new mdpipe-service", pid, testkit.Comm(pid))
	})
	r.service = pid
	r.st = stages(r.t, pid)
	r.procs[pid] = "pipeline"
	r.procs.add(r.st)
}

// pipeline returns the pids of mdpipe-service and its stages.
func (r *runitService) pipeline() map[string]int {
	m := map[string]int{"pipeline": r.service}
	for n, p := range r.st {
		m[n] = p
	}
	return m
}

// cleanRun delivers n messages: all reach their queues, and the log stays
// empty (the tools say nothing when all goes well).
func (r *runitService) cleanRun(n int) {
	r.t.Helper()
	start := time.Now()
	r.all = append(r.all, r.deliver(n)...)
	r.waitAll(r.all, 60*time.Second)
	r.t.Logf("%d messages handed off in %v", n, time.Since(start).Round(time.Millisecond))
	if lines := r.logLines(); len(lines) > 0 {
		r.t.Fatalf("the log has lines after a clean run:\n%s", strings.Join(lines, "\n"))
	}
}

// killWithClaims kills a stage with n claims in its input pipe: it is
// stopped first, so that mdclaim's claims wait in the pipe, and they are
// stranded when it dies. The rest of the pipeline must exit, runsv start
// it again, and mdclaim -r return the stranded claims. It returns the n
// stranded, and how many more messages were delivered while the pipeline
// died: the dying mdclaim may claim some of them before it sees its reader
// gone (SIGKILL's teardown is not instant), and strand those too.
func (r *runitService) killWithClaims(name string, n int) (stranded, late int) {
	r.t.Helper()
	syscall.Kill(r.st[name], syscall.SIGSTOP)
	waitFor(r.t, 5*time.Second, func() (bool, string) {
		return testkit.State(r.st[name]) == 'T', name + " not stopped"
	})
	claimed := r.deliver(n)
	waitFor(r.t, 10*time.Second, func() (bool, string) {
		c := len(r.claims())
		return c == n, fmt.Sprintf("%d of %d claimed", c, n)
	})
	syscall.Kill(r.st[name], syscall.SIGKILL)
	died := time.Now()
	after := r.deliver(n)
	waitGone(r.t, r.pipeline(), 5*time.Second)
	var restart time.Duration
	waitFor(r.t, 10*time.Second, func() (bool, string) {
		got := r.handedOff()
		for _, m := range after {
			if got[m] {
				restart = time.Since(died)
				return true, ""
			}
		}
		return false, "no message handed off since the stage died"
	})
	r.t.Logf("restart: %v from the death of %s to the first message handed off again",
		restart.Round(time.Millisecond), name)
	r.started()
	r.all = append(append(r.all, claimed...), after...)
	r.waitAll(r.all, recoverAge*3+10*time.Second)
	return n, len(after)
}

// kill kills a stage, idle: the pipeline must end as promptly, and the
// next one hand off what comes.
func (r *runitService) kill(name string) {
	r.t.Helper()
	syscall.Kill(r.st[name], syscall.SIGKILL)
	died := time.Now()
	waitGone(r.t, r.pipeline(), 5*time.Second)
	r.t.Logf("%s killed: the pipeline exited in %v", name, time.Since(died).Round(time.Millisecond))
	r.started()
	more := r.deliver(10)
	r.all = append(r.all, more...)
	r.waitAll(more, 10*time.Second)
}

// checkRestartLog checks the log after the deaths: the stages saying
// their reader went, mdpipe-service naming the stage that died and how,
// finish's exit lines, and a line for each claim mdclaim -r returned;
// nothing else. Every one of the stranded claims must come back; of the
// late ones, those the dying pipeline took.
func (r *runitService) checkRestartLog(stranded, late int) {
	r.t.Helper()
	expected := regexp.MustCompile(`^\S+ (` +
		`md(claim|route|sweep|fail): (cannot write output: )?the next tool in the pipeline has exited|` +
		`mdpipe-service: md(claim|route|sweep|fail): (killed by signal [A-Z0-9]+|exited [0-9]+)|` +
		`mdpipe: the pipeline exited 111 \(status 0\)|` +
		`mdclaim: returned '[^']+' to new/: claimed more than \S+ ago and not locked|` +
		`mdclaim: returned [0-9]+ claims to new/ that the next tool never read)$`)
	// The stranded claims come back by mdclaim -r, or at once from the
	// dying mdclaim, which gives back what its pipe still held.
	neverRead := regexp.MustCompile(`mdclaim: returned ([0-9]+) claims to new/ that the next tool never read$`)
	returned := 0
	for _, l := range r.logLines() {
		if !expected.MatchString(l) {
			r.t.Errorf("unexpected log line: %s", l)
		}
		if strings.Contains(l, " returned '") {
			returned++
		}
		if m := neverRead.FindStringSubmatch(l); m != nil {
			n, _ := strconv.Atoi(m[1])
			returned += n
		}
	}
	if returned < stranded || returned > stranded+late {
		r.t.Errorf("mdclaim returned %d claims, want the %d stranded and at most %d delivered as the pipeline died",
			returned, stranded, late)
	} else if returned > stranded {
		r.t.Logf("mdclaim returned %d claims: the %d stranded and %d the dying mdclaim took",
			returned, stranded, returned-stranded)
	}
}

// downInFlight stops the service right after n deliveries: every stage
// exits 0 (nothing in the log: finish logs a non-zero exit), what was
// claimed is handed off, the rest waits in new/, and no claim is left.
func (r *runitService) downInFlight(n int) {
	r.t.Helper()
	mark := len(r.logLines())
	msgs := r.deliver(n)
	r.all = append(r.all, msgs...)
	run(r.t, "sv", "-w", "15", "down", r.sv)
	waitGone(r.t, r.pipeline(), 5*time.Second)
	got := r.handedOff()
	done := 0
	for _, m := range msgs {
		if got[m] {
			done++
		}
	}
	waiting, _ := os.ReadDir(filepath.Join(r.intake, "new"))
	r.t.Logf("sv down with %d messages just delivered: %d handed off, %d left in new/", n, done, len(waiting))
	if done+len(waiting) != n {
		r.t.Errorf("sv down lost messages: %d handed off, %d in new/, of %d", done, len(waiting), n)
	}
	if left := r.claims(); len(left) > 0 {
		r.t.Errorf("sv down left claims in cur/: %v", left)
	}
	if lines := r.logLines()[mark:]; len(lines) > 0 {
		r.t.Errorf("sv down logged:\n%s", strings.Join(lines, "\n"))
	}
	if out := run(r.t, "sv", "status", r.sv); !strings.HasPrefix(out, "down: ") {
		r.t.Errorf("sv status after sv down: %s", out)
	}
}

// up starts the service again: what waited, and what comes now, is handed
// off.
func (r *runitService) up() {
	r.t.Helper()
	run(r.t, "sv", "-w", "15", "up", r.sv)
	r.started()
	r.all = append(r.all, r.deliver(10)...)
	r.waitAll(r.all, recoverAge*3+10*time.Second)
}

// downWhileDeferred stops the service while a hand-off fails (a new
// list's subqueue cannot be made): the message is deferred on disk, the
// ones behind it are handed off all the same, and sv down stops the whole
// pipeline at once, leaving nothing claimed. The deferred message is
// handed off once the service is up again and its next try has come.
func (r *runitService) downWhileDeferred() {
	r.t.Helper()
	if err := os.Chmod(filepath.Join(r.queue, "newlist"), 0o555); err != nil {
		r.t.Fatal(err)
	}
	newList := "Delivered-To: newlist@lists.example.test\n"
	r.envelope = &newList
	failing := r.deliver(1)
	r.envelope = nil
	waitFor(r.t, 10*time.Second, func() (bool, string) {
		return len(r.cur(":1,D")) == 1 && strings.Contains(strings.Join(r.logLines(), "\n"), "mdsweep: deferred until"),
			"mdsweep has not deferred the failing hand-off"
	})
	behind := r.deliver(3)
	r.waitAll(behind, 10*time.Second)
	r.all = append(append(r.all, failing...), behind...)
	down := time.Now()
	run(r.t, "sv", "down", r.sv)
	waitGone(r.t, r.pipeline(), 5*time.Second)
	r.t.Logf("sv down with a hand-off failing: the pipeline exited in %v", time.Since(down).Round(time.Millisecond))
	if left := r.claims(); len(left) != 0 {
		r.t.Errorf("after a stop with a hand-off failing, cur/ holds the claims %v, want none", left)
	}
	if d := r.cur(":1,D"); len(d) != 1 || !strings.HasPrefix(d[0], failing[0]+":") {
		r.t.Errorf("after the stop, the deferred messages are %v, want %s's", d, failing[0])
	}
	if err := os.Chmod(filepath.Join(r.queue, "newlist"), 0o755); err != nil {
		r.t.Fatal(err)
	}
}

// hup makes runsv start the pipeline again with a fresh env/: here,
// mdroute then logs each message routed.
func (r *runitService) hup() {
	r.t.Helper()
	if err := os.WriteFile(filepath.Join(r.sv, "env", "MDROUTE_VERBOSE"), []byte("1\n"), 0o644); err != nil {
		r.t.Fatal(err)
	}
	run(r.t, "sv", "hup", r.sv)
	r.started()
	last := r.deliver(1)
	r.all = append(r.all, last...)
	r.waitAll(r.all, 10*time.Second)
	routed := "mdroute: routed '" + filepath.Join(r.intake, "cur", last[0])
	waitFor(r.t, 5*time.Second, func() (bool, string) {
		return strings.Contains(strings.Join(r.logLines(), "\n"), routed),
			"after sv hup, mdroute did not log the message routed"
	})
}
