package supervise

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestS6 runs examples/service/s6 under s6-supervise, its log under a
// second s6-supervise on log/, as s6-svscan would pair them.
func TestS6(t *testing.T) {
	needs(t, "s6-supervise", "s6-svc", "s6-svstat", "s6-log", "s6-envdir", "s6-setuidgid")
	s := newSite(t, "s6", nil)
	s.superviseWithLog("s6-supervise", func(dir string) { run(t, "s6-svc", "-xd", dir) })
	var service int
	waitFor(t, 10*time.Second, func() (bool, string) {
		out, err := exec.Command("s6-svstat", "-o", "up,pid", s.sv).Output()
		f := strings.Fields(string(out))
		if err != nil || len(f) != 2 || f[0] != "true" {
			return false, "s6-svstat: " + strings.TrimSpace(string(out))
		}
		service, _ = strconv.Atoi(f[1])
		return service > 0, ""
	})
	s.deliverAndStop(service, func() { run(t, "s6-svc", "-d", s.sv) })
	waitFor(t, 5*time.Second, func() (bool, string) {
		out, _ := exec.Command("s6-svstat", "-o", "up,exitcode", s.sv).Output()
		return strings.TrimSpace(string(out)) == "false 0", "s6-svstat: " + strings.TrimSpace(string(out))
	})
}
