package supervise

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// superviseWithLog starts prog on the service directory and on its log/,
// with a pipe from the one to the other.
func (s *site) superviseWithLog(prog string, exit func(dir string)) {
	s.t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		s.t.Fatal(err)
	}
	logDir := filepath.Join(s.sv, "log")
	logger := exec.Command(prog, logDir)
	logger.Stdin, logger.Stderr = r, os.Stderr
	startSupervisor(s.t, logger, func() { exit(logDir) }, seen{})
	svc := exec.Command(prog, s.sv)
	svc.Stdout, svc.Stderr = w, os.Stderr
	startSupervisor(s.t, svc, func() { exit(s.sv) }, seen{})
	r.Close()
	w.Close()
}

// deliverAndStop delivers 100 messages and sees them handed off with
// nothing logged, then one the log must tell of; it stops the service and
// checks that all four stages exited, leaving no claim and logging nothing.
func (s *site) deliverAndStop(service int, stop func()) {
	s.t.Helper()
	st := stages(s.t, service)
	msgs := s.deliver(100)
	s.waitAll(msgs, 30*time.Second)
	if lines := s.logLines(); len(lines) > 0 {
		s.t.Errorf("the log has lines after a clean run:\n%s", strings.Join(lines, "\n"))
	}

	// A message with no recipient is parked, and the log says so: the
	// log service writes what the pipeline says.
	none := ""
	s.envelope = &none
	bad := s.deliver(1)[0]
	waitFor(s.t, 10*time.Second, func() (bool, string) {
		log := strings.Join(s.logLines(), "\n")
		return len(s.parked()) == 1 && strings.Contains(log, "mdroute: ") &&
				strings.Contains(log, bad+":1,X"),
			fmt.Sprintf("parked %v, log:\n%s", s.parked(), log)
	})
	mark := len(s.logLines())

	stop()
	st["pipeline"] = service
	waitGone(s.t, st, 10*time.Second)
	if left := s.claims(); len(left) > 0 {
		s.t.Errorf("the stop left claims in cur/: %v", left)
	}
	if lines := s.logLines()[mark:]; len(lines) > 0 {
		s.t.Errorf("the stop logged:\n%s", strings.Join(lines, "\n"))
	}
}
