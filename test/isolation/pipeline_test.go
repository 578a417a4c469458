package isolation

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// stage names the four tools in pipeline order, for the indexes below.
const (
	claimStage = iota
	routeStage
	sweepStage
	failStage
)

// pipeline is one streaming mdclaim | mdroute | mdsweep | mdfail: each
// stage its own process, joined by pipes, all four in one process group
// led by mdclaim, as mdpipe-service(8) runs them; signals go by pid and
// pgid, never by name.
type pipeline struct {
	t      *testing.T
	cmds   []*exec.Cmd
	stderr []*testkit.SyncBuffer
	pgid   int
	done   chan struct{} // closed once every stage has exited

	mu     sync.Mutex
	status []int
}

// startPipeline starts the four stages, each argv naming a tool of bin
// and its arguments, with env besides PATH, as cred's user when cred is
// not nil. The test's end kills whatever of it still runs.
func startPipeline(t *testing.T, cred *syscall.Credential, env []string, argv ...[]string) *pipeline {
	t.Helper()
	p := &pipeline{t: t, done: make(chan struct{}), status: make([]int, len(argv))}
	var in *os.File
	for i, a := range argv {
		cmd := exec.Command(filepath.Join(bin, a[0]), a[1:]...)
		cmd.Dir = "/"
		// No MD* variables from whoever runs the test.
		cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		buf := &testkit.SyncBuffer{}
		cmd.Stdin, cmd.Stderr = in, buf
		var r, w *os.File
		if i < len(argv)-1 {
			var err error
			if r, w, err = os.Pipe(); err != nil {
				t.Fatal(err)
			}
			cmd.Stdout = w
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: p.pgid, Credential: cred}
		if err := cmd.Start(); err != nil {
			p.kill()
			t.Fatalf("%s: %v", a[0], err)
		}
		if p.pgid == 0 {
			p.pgid = cmd.Process.Pid
		}
		// Our copies of the pipe ends must go, or no stage sees EOF.
		if in != nil {
			in.Close()
		}
		if w != nil {
			w.Close()
		}
		in = r
		p.cmds = append(p.cmds, cmd)
		p.stderr = append(p.stderr, buf)
	}
	var wg sync.WaitGroup
	for i, c := range p.cmds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Wait()
			p.mu.Lock()
			p.status[i] = c.ProcessState.ExitCode()
			p.mu.Unlock()
		}()
	}
	go func() { wg.Wait(); close(p.done) }()
	t.Cleanup(func() {
		if !p.exited() {
			p.kill()
			<-p.done
		}
		t.Logf("pipeline statuses %v; log:\n%s", p.statuses(), p.log())
	})
	return p
}

// standard is the streaming pipeline with a command hand-off:
// mdclaim -f -k CLAIMS INTAKE | mdroute | mdsweep -c SCRIPT | mdfail.
func (s *site) standard(claims string) [][]string {
	return [][]string{
		{"mdclaim", "-f", "-k", claims, s.intake},
		{"mdroute"},
		{"mdsweep", "-c", s.script},
		{"mdfail"},
	}
}

// kill ends the whole process group at once: test clean-up only, and
// only while the group is ours (its leader not yet reaped).
func (p *pipeline) kill() {
	if p.pgid != 0 && !p.exited() {
		syscall.Kill(-p.pgid, syscall.SIGKILL)
	}
}

func (p *pipeline) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig to one stage, once every stage catches it.
func (p *pipeline) signal(stage int, sig syscall.Signal) {
	p.t.Helper()
	testkit.Poll(p.t, stopWithin, "every stage to catch the signal", func() bool { return p.catching(sig) })
	if err := p.cmds[stage].Process.Signal(sig); err != nil {
		p.t.Logf("signal %v to %s: %v", sig, p.cmds[stage].Args[0], err)
	}
}

// signalGroup sends sig to every stage at once, as a supervisor's stop
// through mdpipe-service(8) does, once every stage catches it.
func (p *pipeline) signalGroup(sig syscall.Signal) {
	p.t.Helper()
	if p.exited() {
		return
	}
	testkit.Poll(p.t, stopWithin, "every stage to catch the signal", func() bool { return p.catching(sig) })
	if err := syscall.Kill(-p.pgid, sig); err != nil {
		p.t.Logf("signal %v to the group: %v", sig, err)
	}
}

// taken reports whether no live stage has sig pending: the kernel merges
// a signal sent again before the first was taken into one, so a test
// that means several signals waits for this between them.
func (p *pipeline) taken(sig syscall.Signal) bool {
	return p.every(func(st procStatus) bool { return st["SigPnd"]&sigBit(sig) == 0 && st["ShdPnd"]&sigBit(sig) == 0 })
}

// catching reports whether every live stage catches sig: a signal that
// comes before a tool's runtime has installed its handlers kills the
// tool instead of stopping it, which tells nothing of the stop, so the
// tests signal a stage only once it catches the signal.
func (p *pipeline) catching(sig syscall.Signal) bool {
	return p.every(func(st procStatus) bool { return st["SigCgt"]&sigBit(sig) != 0 })
}

func sigBit(sig syscall.Signal) uint64 { return uint64(1) << (uint(sig) - 1) }

// procStatus holds the signal masks of /proc/PID/status.
type procStatus map[string]uint64

// every reports whether cond holds for each stage still running; a
// stage that has exited passes.
func (p *pipeline) every(cond func(procStatus) bool) bool {
	for _, c := range p.cmds {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Process.Pid) + "/status")
		if err != nil {
			continue // exited and reaped
		}
		st := procStatus{}
		for _, line := range strings.Split(string(b), "\n") {
			name, val, _ := strings.Cut(line, ":")
			if strings.HasPrefix(name, "Sig") || name == "ShdPnd" {
				if mask, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64); err == nil {
					st[name] = mask
				}
			}
		}
		if !cond(st) {
			return false
		}
	}
	return true
}

// wait waits for every stage to exit, and fails the test if one still
// runs after within (the clean-up then kills them).
func (p *pipeline) wait(within time.Duration) {
	p.t.Helper()
	if !testkit.Until(within, p.exited) {
		p.t.Fatalf("the pipeline still runs %v after the stop; log:\n%s", within, p.log())
	}
}

func (p *pipeline) statuses() []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int(nil), p.status...)
}

// log is every stage's standard error, in pipeline order.
func (p *pipeline) log() string {
	var b strings.Builder
	for _, e := range p.stderr {
		b.WriteString(e.String())
	}
	return b.String()
}

// linesNaming returns the log lines that name message B.
func (p *pipeline) linesNaming(b string) []string {
	var out []string
	for _, l := range strings.Split(p.log(), "\n") {
		if strings.Contains(l, b) {
			out = append(out, l)
		}
	}
	return out
}

// peak samples the number of claims held while the test runs, and
// returns a function that stops the sampling and gives the highest
// number seen. A sample is a read of cur/ every few milliseconds: a
// peak between two samples can be missed, never invented.
func (s *site) peak() func() int {
	stop := make(chan struct{})
	result := make(chan int, 1)
	go func() {
		max := 0
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if n := s.claims(); n > max {
				max = n
			}
			select {
			case <-stop:
				result <- max
				return
			case <-t.C:
			}
		}
	}()
	var once sync.Once
	var max int
	get := func() int {
		once.Do(func() { close(stop); max = <-result })
		return max
	}
	s.t.Cleanup(func() { get() }) // a test that fails early stops it too
	return get
}
