package supervise

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestDaemontools runs examples/service/daemontools under supervise, its
// log under a second supervise on log/, as svscan would pair them.
func TestDaemontools(t *testing.T) {
	needs(t, "supervise", "svc", "svstat", "multilog", "envdir", "setuidgid")
	s := newSite(t, "daemontools", nil)
	s.superviseWithLog("supervise", func(dir string) { run(t, "svc", "-dx", dir) })
	var service int
	waitFor(t, 10*time.Second, func() (bool, string) {
		// "DIR: up (pid 123) 4 seconds"
		out, _ := exec.Command("svstat", s.sv).Output()
		f := strings.Fields(strings.TrimPrefix(string(out), s.sv+":"))
		if len(f) < 3 || f[0] != "up" || f[1] != "(pid" {
			return false, "svstat: " + strings.TrimSpace(string(out))
		}
		service, _ = strconv.Atoi(strings.TrimSuffix(f[2], ")"))
		return service > 0, ""
	})
	s.deliverAndStop(service, func() { run(t, "svc", "-d", s.sv) })
	waitFor(t, 5*time.Second, func() (bool, string) {
		out, _ := exec.Command("svstat", s.sv).Output()
		f := strings.Fields(strings.TrimPrefix(string(out), s.sv+":"))
		return len(f) > 0 && f[0] == "down", "svstat: " + strings.TrimSpace(string(out))
	})
}
