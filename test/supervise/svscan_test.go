package supervise

import (
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// svscanSuite is a supervisor suite that pairs a service with its log as
// svscan does: one supervisor on the service directory, a second on its
// log/, a pipe between them. Only the commands that stop a service and
// read its state differ from suite to suite.
type svscanSuite struct {
	name      string   // its directory under examples/service
	progs     []string // what it needs installed
	supervise string   // run on the service directory and on log/
	exit      []string // + DIR: stop DIR's service and its supervisor
	down      []string // + DIR: stop DIR's service
	// upStatus (+ DIR) prints the state; upPid reads the service's pid
	// from it, 0 while it is not up.
	upStatus []string
	upPid    func(out, dir string) int
	// downStatus (+ DIR) prints the state; isDown reads it.
	downStatus []string
	isDown     func(out, dir string) bool
}

var svscanSuites = []svscanSuite{
	{
		name:      "daemontools",
		progs:     []string{"supervise", "svc", "svstat", "multilog", "envdir", "setuidgid"},
		supervise: "supervise",
		exit:      []string{"svc", "-dx"},
		down:      []string{"svc", "-d"},
		upStatus:  []string{"svstat"},
		upPid: func(out, dir string) int {
			// "DIR: up (pid 123) 4 seconds"
			f := strings.Fields(strings.TrimPrefix(out, dir+":"))
			if len(f) < 3 || f[0] != "up" || f[1] != "(pid" {
				return 0
			}
			pid, _ := strconv.Atoi(strings.TrimSuffix(f[2], ")"))
			return pid
		},
		downStatus: []string{"svstat"},
		isDown: func(out, dir string) bool {
			f := strings.Fields(strings.TrimPrefix(out, dir+":"))
			return len(f) > 0 && f[0] == "down"
		},
	},
	{
		name:      "s6",
		progs:     []string{"s6-supervise", "s6-svc", "s6-svstat", "s6-log", "s6-envdir", "s6-setuidgid"},
		supervise: "s6-supervise",
		exit:      []string{"s6-svc", "-xd"},
		down:      []string{"s6-svc", "-d"},
		upStatus:  []string{"s6-svstat", "-o", "up,pid"},
		upPid: func(out, _ string) int {
			f := strings.Fields(out)
			if len(f) != 2 || f[0] != "true" {
				return 0
			}
			pid, _ := strconv.Atoi(f[1])
			return pid
		},
		downStatus: []string{"s6-svstat", "-o", "up,exitcode"},
		isDown:     func(out, _ string) bool { return strings.TrimSpace(out) == "false 0" },
	},
}

// TestSvscanSuites runs examples/service/daemontools under supervise and
// examples/service/s6 under s6-supervise, each with its log under a
// second supervisor on log/, as svscan or s6-svscan would pair them: the
// service comes up, hands off what is delivered, and stops cleanly.
func TestSvscanSuites(t *testing.T) {
	for _, su := range svscanSuites {
		t.Run(su.name, func(t *testing.T) {
			needs(t, su.progs...)
			s := newSite(t, su.name, nil)
			s.superviseWithLog(su.supervise, func(dir string) { runOn(t, su.exit, dir) })
			var service int
			waitFor(t, 10*time.Second, func() (bool, string) {
				out := status(su.upStatus, s.sv)
				service = su.upPid(out, s.sv)
				return service > 0, su.upStatus[0] + ": " + strings.TrimSpace(out)
			})
			s.deliverAndStop(service, func() { runOn(t, su.down, s.sv) })
			waitFor(t, 5*time.Second, func() (bool, string) {
				out := status(su.downStatus, s.sv)
				return su.isDown(out, s.sv), su.downStatus[0] + ": " + strings.TrimSpace(out)
			})
		})
	}
}

// runOn runs cmd with dir as its last argument, as run does.
func runOn(t *testing.T, cmd []string, dir string) {
	t.Helper()
	run(t, cmd[0], slices.Concat(cmd[1:], []string{dir})...)
}

// status runs a status command on dir and returns what it printed: a
// command that fails prints nothing the readers above take for up or down.
func status(cmd []string, dir string) string {
	out, _ := exec.Command(cmd[0], slices.Concat(cmd[1:], []string{dir})...).Output()
	return string(out)
}
