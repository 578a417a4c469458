package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// stage is what one process of a run cost.
type stage struct {
	name      string
	user, sys time.Duration
	maxRSS    int64 // bytes: VmHWM, see sampleHWM
	switches  int64 // context switches, voluntary and not
}

// result is one timed run of a system.
type result struct {
	wall   time.Duration
	stages []stage
}

// pipeline is a running chain of processes, each one's stdout the next
// one's stdin.
type pipeline struct {
	cmds    []*exec.Cmd
	stderr  []*bytes.Buffer
	out     bytes.Buffer
	start   time.Time
	hwm     []int64 // peak RSS of each stage seen so far, owned by sampleHWM
	stopHWM chan struct{}
	hwmDone chan struct{}
}

// cleanEnv is the environment without mdpipe's own variables, so that a
// setting in the caller's shell cannot change what is measured.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MD") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// startPipeline starts the stages, connected by pipes.
func startPipeline(stages [][]string, env []string) (*pipeline, error) {
	p := &pipeline{}
	var parentEnds []*os.File
	defer func() {
		for _, f := range parentEnds {
			f.Close()
		}
	}()
	for _, s := range stages {
		c := exec.Command(s[0], s[1:]...)
		c.Env = env
		var eb bytes.Buffer
		c.Stderr = &eb
		p.cmds = append(p.cmds, c)
		p.stderr = append(p.stderr, &eb)
	}
	for i := 0; i+1 < len(p.cmds); i++ {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		parentEnds = append(parentEnds, r, w)
		p.cmds[i].Stdout = w
		p.cmds[i+1].Stdin = r
	}
	p.cmds[len(p.cmds)-1].Stdout = &p.out
	p.start = time.Now()
	for i, c := range p.cmds {
		if err := c.Start(); err != nil {
			for _, started := range p.cmds[:i] {
				started.Process.Kill()
				started.Wait()
			}
			return nil, err
		}
	}
	p.hwm = make([]int64, len(p.cmds))
	p.stopHWM, p.hwmDone = make(chan struct{}), make(chan struct{})
	go p.sampleHWM()
	return p, nil
}

// hwmEvery is how often sampleHWM looks.
const hwmEvery = 50 * time.Millisecond

// sampleHWM keeps each stage's VmHWM (peak RSS) from /proc/PID/status
// while it runs. wait4's ru_maxrss cannot serve: on Linux, exec records
// the old address space's peak in it, and os/exec starts a child with
// vfork semantics, so every child would report this process's own RSS.
// VmHWM only grows, so a sample after the peak catches it; what a tool
// adds in its last 50 ms of life can be missed.
func (p *pipeline) sampleHWM() {
	defer close(p.hwmDone)
	tick := time.NewTicker(hwmEvery)
	defer tick.Stop()
	for {
		for i, c := range p.cmds {
			if kb := vmHWM(c.Process.Pid); kb > 0 {
				p.hwm[i] = max(p.hwm[i], kb<<10)
			}
		}
		select {
		case <-p.stopHWM:
			return
		case <-tick.C:
		}
	}
}

// vmHWM returns the VmHWM of pid in KiB, or 0 if it cannot be read (the
// process has exited).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(v, &kb)
			return kb
		}
	}
	return 0
}

// wait waits for every stage, kills them all if that takes longer than
// limit, and returns the run's cost. A stage that exits non-zero, or says
// anything on stderr but the lines every run says (unusual), fails the
// run.
func (p *pipeline) wait(limit time.Duration) (result, error) {
	timer := time.AfterFunc(limit, func() {
		for _, c := range p.cmds {
			c.Process.Kill()
		}
	})
	defer timer.Stop()
	var res result
	var errs []error
	for i, c := range p.cmds {
		err := c.Wait()
		if i == len(p.cmds)-1 {
			res.wall = time.Since(p.start)
		}
		name := c.Args[0]
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %v: %s", name, err, firstLine(p.stderr[i].String())))
		} else if said := unusual(p.stderr[i].String()); said != "" {
			errs = append(errs, fmt.Errorf("%s said: %s", name, said))
		}
		res.stages = append(res.stages, stageOf(name, c.ProcessState))
	}
	close(p.stopHWM)
	<-p.hwmDone
	for i := range res.stages {
		res.stages[i].maxRSS = p.hwm[i]
	}
	if p.out.Len() > 0 {
		errs = append(errs, fmt.Errorf("last stage printed: %s", firstLine(p.out.String())))
	}
	return res, errors.Join(errs...)
}

// stop sends SIGTERM to the first stage: the others then see end of input
// and exit in turn, as when a supervisor stops the service.
func (p *pipeline) stop() { p.cmds[0].Process.Signal(syscall.SIGTERM) }

func stageOf(name string, ps *os.ProcessState) stage {
	s := stage{name: name}
	if ps == nil {
		return s
	}
	s.user, s.sys = ps.UserTime(), ps.SystemTime()
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		s.switches = ru.Nvcsw + ru.Nivcsw
	}
	return s
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// unusual returns the first line of a stage's stderr that is not one every
// run of a pipeline says: mdclaim -f's line at its start (what it follows,
// its bound) and each stage's line at a stop (what it did); "" if none.
func unusual(stderr string) string {
	for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
		if line == "" || strings.HasPrefix(line, "mdclaim: following ") || strings.Contains(line, ": stopped: ") {
			continue
		}
		return line
	}
	return ""
}
