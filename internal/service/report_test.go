package service

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"

	"mdpipe/internal/cli"
	"mdpipe/internal/logline"
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
