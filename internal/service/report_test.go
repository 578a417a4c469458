package service

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/cli"
	"mdpipe/internal/logline"
	"mdpipe/internal/testkit"
)

// exitedWith runs a shell that exits with code, for its ProcessState.
func exitedWith(t *testing.T, code string) exit {
	t.Helper()
	c := exec.Command("/bin/sh", "-c", "exit "+code)
	c.Run()
	return exit{st: c.ProcessState}
}

// At a stop, a stage's 100 says an input of the drain was refused for
// good (parked, and logged): no failure. 111, or any status of a stage
// that ended on its own, is one, and is named.
func TestReportAtAStop(t *testing.T) {
	for _, c := range []struct {
		codes []string
		died  bool
		want  cli.Status
		log   string
	}{
		{[]string{"0", "0", "100", "0"}, false, cli.OK, ""},
		{[]string{"0", "0", "111", "0"}, false, cli.Temp, "mdsweep: exited 111"},
		{[]string{"0", "100", "0", "0"}, true, cli.Temp, "mdroute: exited 100"},
	} {
		var buf bytes.Buffer
		log := logline.New("mdpipe-service")
		log.SetOutput(&buf)
		p := &pipeline{log: log}
		var ends []exit
		for i, name := range []string{"mdclaim", "mdroute", "mdsweep", "mdfail"} {
			p.stages = append(p.stages, exec.Command(name))
			e := exitedWith(t, c.codes[i])
			e.i = i
			ends = append(ends, e)
		}
		if got := p.report(ends, c.died); got != c.want || !strings.Contains(buf.String(), c.log) || (c.log == "" && buf.Len() > 0) {
			t.Errorf("%v (died %v): status %d, log %q; want %d, %q", c.codes, c.died, got, buf.String(), c.want, c.log)
		}
	}
}

// -V says the name and version and exits 0, as every tool's does; any
// other argument is a usage error.
func TestVersionAndUsage(t *testing.T) {
	svc := filepath.Join(testkit.BuildService(t), "mdpipe-service")
	out, err := exec.Command(svc, "-V").Output()
	if err != nil || !strings.HasPrefix(string(out), "mdpipe-service ") || strings.Count(string(out), "\n") != 1 {
		t.Errorf("-V: %q, %v; want one line naming mdpipe-service and its version", out, err)
	}
	err = exec.Command(svc, "/some/maildir").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 100 {
		t.Errorf("an operand: %v, want exit 100", err)
	}
}
