package postfixsite

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// Start takes the lock, starts Postfix, stops it when the test ends (also
// on failure) and only then releases the lock, and waits until p.Addr
// accepts.
func (p *Instance) Start(t *testing.T) {
	t.Helper()
	lockInstance(t)
	if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s accepts before our Postfix starts: another program took the port", p.Addr)
	}
	p.run(t, "postfix", "-c", p.Config, "start")
	t.Cleanup(func() { p.Stop(t) })
	testkit.Poll(t, 20*time.Second, "Postfix to accept on "+p.Addr, func() bool {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// Stop stops Postfix and waits until its master process is gone, so that
// the next run finds the machine quiet and the directory can be removed.
func (p *Instance) Stop(t testing.TB) {
	pid := 0
	if b, err := os.ReadFile(filepath.Join(p.Base, "spool", "pid", "master.pid")); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if out, err := exec.Command("postfix", "-c", p.Config, "stop").CombinedOutput(); err != nil {
		t.Errorf("postfix stop: %v: %s", err, out)
	}
	if pid <= 0 {
		return
	}
	if !testkit.Until(20*time.Second, func() bool { return syscall.Kill(pid, 0) != nil }) {
		t.Errorf("Postfix master (pid %d) still runs 20s after postfix stop", pid)
	}
}

// QueueEmpty reports whether postqueue -p says the queue is empty.
func (p *Instance) QueueEmpty(t testing.TB) bool {
	out, err := exec.Command("postqueue", "-c", p.Config, "-p").CombinedOutput()
	if err != nil {
		t.Fatalf("postqueue -p: %v: %s", err, out)
	}
	return strings.Contains(string(out), "Mail queue is empty")
}

// Log returns Postfix's log, for failure messages.
func (p *Instance) Log() string {
	b, err := os.ReadFile(filepath.Join(p.Base, "maillog"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// run runs a Postfix command. Postfix commands report errors to syslog,
// or to maillog_file once main.cf names one, not on a stderr that is not
// a terminal: on failure, show that log too.
func (p *Instance) run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s\nmaillog:\n%s", name, strings.Join(args, " "), err, out, p.Log())
	}
}
