package torture

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// pipeline is one streaming mdclaim | mdroute | mdsweep | mdfail, each
// stage its own process, all four in one process group led by mdclaim,
// so that kills and cleanup go by pid and pgid, never by name.
type pipeline struct {
	id     int
	stages [][]string // argv of each stage
	logDir string

	mu       sync.Mutex
	pids     []int // live stages; nil while (re)starting
	pgid     int
	stopping bool

	starts   int
	stuck    int      // times the stages left alive did not notice a dead stage
	stuckLog []string // which, each time
	done     chan struct{}
}

func newPipeline(id int, intake, queue, logDir string) *pipeline {
	return &pipeline{
		id:     id,
		logDir: logDir,
		done:   make(chan struct{}),
		stages: [][]string{
			{filepath.Join(bin, "mdclaim"), "-f", "-r", "2s", intake},
			{filepath.Join(bin, "mdroute")},
			{filepath.Join(bin, "mdsweep"), "-q", queue},
			{filepath.Join(bin, "mdfail")},
		},
	}
}

// supervise runs the pipeline, and restarts it each time it ends, until
// stop is called: what a supervisor (runsv, s6) does for a service.
func (p *pipeline) supervise(errs chan<- error) {
	defer close(p.done)
	for {
		p.mu.Lock()
		if p.stopping {
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		if err := p.runOnce(); err != nil {
			errs <- err
			return
		}
	}
}

// runOnce starts the four stages and waits for all of them. Once one has
// died, the others must notice (EOF, EPIPE, a dead downstream) and exit
// on their own; those that have not within a grace period are killed and
// counted as stuck.
func (p *pipeline) runOnce() error {
	stderr, err := os.OpenFile(filepath.Join(p.logDir, fmt.Sprintf("pipeline%d.log", p.id)),
		os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o666)
	if err != nil {
		return err
	}
	defer stderr.Close()
	var cmds []*exec.Cmd
	var in *os.File
	pgid := 0
	for i, argv := range p.stages {
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stderr = in, stderr
		var r *os.File
		if i < len(p.stages)-1 {
			var w *os.File
			if r, w, err = os.Pipe(); err != nil {
				break
			}
			cmd.Stdout = w
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
		if i == 2 {
			cmd.SysProcAttr.Credential = sweepCredential() // see failing_test.go
		}
		if err = cmd.Start(); err != nil {
			if w, ok := cmd.Stdout.(*os.File); ok {
				w.Close()
				r.Close()
			}
			break
		}
		if pgid == 0 {
			pgid = cmd.Process.Pid
		}
		cmds = append(cmds, cmd)
		// Our copies of the pipe ends must go, or no stage ever sees EOF.
		if in != nil {
			in.Close()
		}
		if w, ok := cmd.Stdout.(*os.File); ok {
			w.Close()
		}
		in = r
	}
	if in != nil {
		in.Close()
	}
	if err != nil {
		if pgid != 0 {
			syscall.Kill(-pgid, syscall.SIGKILL)
		}
		for _, c := range cmds {
			c.Wait()
		}
		return fmt.Errorf("pipeline %d: starting: %v", p.id, err)
	}
	p.mu.Lock()
	p.starts++
	p.pgid = pgid
	p.pids = p.pids[:0]
	for _, c := range cmds {
		p.pids = append(p.pids, c.Process.Pid)
	}
	if p.stopping {
		syscall.Kill(-pgid, syscall.SIGTERM)
	}
	p.mu.Unlock()

	exited := make(chan int, len(cmds))
	for i, c := range cmds {
		go func() { c.Wait(); exited <- i }()
	}
	first := <-exited
	alive := map[int]bool{0: true, 1: true, 2: true, 3: true}
	delete(alive, first)
	// A paused pipeline's stages must run to notice the dead one.
	syscall.Kill(-pgid, syscall.SIGCONT)
	grace := time.NewTimer(5 * time.Second)
	defer grace.Stop()
	for len(alive) > 0 {
		select {
		case i := <-exited:
			delete(alive, i)
		case <-grace.C:
			p.mu.Lock()
			p.stuck++
			p.stuckLog = append(p.stuckLog, fmt.Sprintf("pipeline %d: %s died, %v still running after 5s",
				p.id, stageNames[first], stageList(alive)))
			p.mu.Unlock()
			syscall.Kill(-pgid, syscall.SIGKILL)
			for len(alive) > 0 {
				delete(alive, <-exited)
			}
		}
	}
	p.mu.Lock()
	p.pids, p.pgid = nil, 0 // the pgid may be any process's from now on
	p.mu.Unlock()
	return nil
}

var stageNames = []string{"mdclaim", "mdroute", "mdsweep", "mdfail"}

func stageList(alive map[int]bool) []string {
	var out []string
	for i := range stageNames {
		if alive[i] {
			out = append(out, stageNames[i])
		}
	}
	return out
}

// kill sends SIGKILL to one stage, if the pipeline is running; it
// reports the stage killed, or -1.
func (p *pipeline) kill(stage int) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping || len(p.pids) == 0 {
		return -1
	}
	syscall.Kill(p.pids[stage], syscall.SIGKILL)
	p.pids = nil // restarting: no second kill before that
	return stage
}

// pause stops the whole pipeline (SIGSTOP) for d, longer than -r: the
// other pipelines then return its claims to new/ while it still holds
// them in its pipes, and claim them again. It reports whether it paused.
func (p *pipeline) pause(d time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopping || len(p.pids) == 0 {
		return false
	}
	pgid := p.pgid
	syscall.Kill(-pgid, syscall.SIGSTOP)
	time.AfterFunc(d, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.pgid == pgid {
			syscall.Kill(-pgid, syscall.SIGCONT)
		}
	})
	return true
}

// stop asks every stage to stop (SIGTERM, as svc -d does) and waits for
// the pipeline to end; false if it did not within the deadline, and then
// it is killed.
func (p *pipeline) stop(deadline time.Duration) bool {
	p.mu.Lock()
	p.stopping = true
	if p.pids != nil {
		syscall.Kill(-p.pgid, syscall.SIGTERM)
		syscall.Kill(-p.pgid, syscall.SIGCONT) // if paused
	}
	p.mu.Unlock()
	select {
	case <-p.done:
		return true
	case <-time.After(deadline):
		p.abort()
		<-p.done
		return false
	}
}

// abort kills the whole process group: test cleanup.
func (p *pipeline) abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stopping = true
	if p.pgid != 0 {
		syscall.Kill(-p.pgid, syscall.SIGKILL)
	}
}
