package supervise

import (
	"mdpipe/internal/testkit"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRunitSlowStop stops the service while it works through a backlog
// with a hand-off of 20 messages a second (a command of 50 ms, the pace of
// Mailman 3's LMTP runner): the stop hands off what the pipeline holds
// (at most 64 claims) within the grace, returns the rest to new/, and
// leaves no claim behind; every stage exits 0 and nothing is logged.
func TestRunitSlowStop(t *testing.T) {
	needs(t, "runsv", "sv", "svlogd", "chpst")
	taken := filepath.Join(t.TempDir(), "taken")
	s := newSite(t, "runit", map[string]string{
		// 64 claims at 20 a second are 3.2 s of the 5 s grace; the
		// command's own sh, cat and echo add about 15 ms a message, and
		// a busy machine more: a grace with room, so that the test
		// checks the stop, not the machine's load.
		"MDPIPE_GRACE":    "10s",
		"MDSWEEP_QUEUE":   "",
		"MDSWEEP_COMMAND": `sleep 0.05; cat >/dev/null; echo "${MESSAGE##*/}" >>` + taken,
	})
	if err := os.Chmod(filepath.Dir(taken), 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(filepath.Dir(taken)), 0o755)
	msgs := s.deliver(400)
	runsv := exec.Command("runsv", s.sv)
	runsv.Stdout, runsv.Stderr = os.Stderr, os.Stderr
	procs := seen{}
	startSupervisor(t, runsv, func() { runsv.Process.Signal(syscall.SIGTERM) }, procs)
	var service int
	waitFor(t, 10*time.Second, func() (bool, string) {
		service = readPid(t, filepath.Join(s.sv, "supervise", "pid"))
		return testkit.Comm(service) == "mdpipe-service", "no mdpipe-service under runsv yet"
	})
	st := stages(t, service)
	procs[service] = "mdpipe-service"
	procs.add(st)
	peak := 0
	waitFor(t, time.Minute, func() (bool, string) {
		peak = max(peak, len(s.claims()))
		return len(handedOffBy(taken)) >= 20 && peak >= 32, "the pipeline is not flowing"
	})
	down := time.Now()
	run(t, "sv", "down", s.sv)
	st["mdpipe-service"] = service
	waitGone(t, st, 15*time.Second)
	t.Logf("sv down with a 20 msg/s hand-off: the pipeline exited in %v", time.Since(down).Round(time.Millisecond))
	if peak > 64 {
		t.Errorf("the pipeline held %d claims, more than the bound 64", peak)
	}
	if left := s.claims(); len(left) > 0 {
		t.Errorf("the stop left %d claims in cur/", len(left))
	}
	done := handedOffBy(taken)
	waiting, _ := os.ReadDir(filepath.Join(s.intake, "new"))
	t.Logf("%d handed off, %d back or still in new/", len(done), len(waiting))
	seen := map[string]bool{}
	for _, d := range done {
		b, _, _ := strings.Cut(d, ":")
		if seen[b] {
			t.Errorf("%s handed off twice", b)
		}
		seen[b] = true
	}
	for _, w := range waiting {
		seen[w.Name()] = true
	}
	for _, m := range msgs {
		if !seen[m] {
			t.Errorf("%s lost: neither handed off nor in new/", m)
		}
	}
	if lines := s.logLines(); len(lines) > 0 {
		t.Errorf("the stop logged:\n%s", strings.Join(lines, "\n"))
	}
}

// handedOffBy returns the lines the hand-off command wrote.
func handedOffBy(file string) []string {
	b, _ := os.ReadFile(file)
	return strings.Fields(string(b))
}
