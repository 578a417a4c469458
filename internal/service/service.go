// Package service is mdpipe-service: the four stages joined by pipes, as
// one supervised service (daemontools, runit, s6). It starts
//
//	mdclaim -f -r "${MDCLAIM_RECOVER:-10m}" "$MAILDIR" | mdroute | mdsweep | mdfail
//
// each stage the tool found on PATH, with the service's environment and
// umask 027. A stop signal (TERM, INT, HUP) is passed on to each stage's
// PID as a TERM (HUP would kill a stage, not stop it), never to a process
// group: the commands mdsweep runs are in groups of their own, and see no
// signal but mdsweep's. The stages stop as
// mdpipe(7) "Stopping" says, and a clean stop exits 0. When a stage dies
// instead, it says which and how, stops the rest, and exits 111, for the
// supervisor to start the pipeline again.
package service

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"mdpipe/internal/cli"

	"golang.org/x/sys/unix"
)

const prog = "mdpipe-service"

// Umask is the service's: mdsweep creates the queues' maildirs with it,
// and the list manager must be able to read and move what is put there
// (007 if it only shares a group).
const Umask = 0o027

// Main runs the service and returns its exit status. envDir is the
// directory an envdir read the environment from ("env", relative to the
// service directory the supervisor runs ./run in).
func Main(envDir string) int {
	log := cli.NewLog(prog)
	maildir := os.Getenv("MAILDIR")
	if maildir == "" {
		log.Printf("no intake maildir: set it in env/MAILDIR")
		return int(cli.Perm)
	}
	if err := CheckEnvDir(envDir); err != nil {
		log.Printf("%v", err)
		return int(cli.Perm)
	}
	age := os.Getenv("MDCLAIM_RECOVER")
	if age == "" {
		age = "10m"
	}
	stages := []*exec.Cmd{
		exec.Command("mdclaim", "-f", "-r", age, maildir),
		exec.Command("mdroute"),
		exec.Command("mdsweep"),
		exec.Command("mdfail"),
	}
	for _, c := range stages {
		if c.Err != nil {
			log.Printf("cannot start the pipeline: %v", c.Err)
			return int(cli.Perm)
		}
	}
	// Caught before the start, so that no signal between two starts is
	// lost; a caught signal is the default again in the stages (exec).
	stop := make(chan os.Signal, 4)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	// Caught, not ignored, for the same reason: an ignored signal would
	// be ignored by the stages and the commands mdsweep runs too.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGQUIT, syscall.SIGALRM, syscall.SIGUSR1, syscall.SIGUSR2)
	unix.Umask(Umask)
	p := &pipeline{log: log, stages: stages}
	log.Printf("starting %s: %s; %s", cli.Version(), p.commandLine(), settings(os.Environ()))
	if err := p.start(); err != nil {
		log.Printf("cannot start the pipeline: %v", err)
		p.signal()
		p.waitAll()
		return int(cli.Temp)
	}
	return int(p.run(stop))
}

// pipeline is the four stages once started.
type pipeline struct {
	log       *cli.Log
	stages    []*exec.Cmd
	signalled bool // signal sent a TERM
}

// start starts each stage, its stdout the next one's stdin. The first
// reads the service's stdin, the last writes the service's stdout; all
// log to its stderr.
func (p *pipeline) start() error {
	for i, c := range p.stages {
		if i == 0 {
			c.Stdin = os.Stdin
		}
		if i == len(p.stages)-1 {
			c.Stdout = os.Stdout
		} else {
			r, w, err := os.Pipe()
			if err != nil {
				return err
			}
			c.Stdout = w
			p.stages[i+1].Stdin = r
		}
		c.Stderr = os.Stderr
	}
	var err error
	for _, c := range p.stages {
		if err == nil {
			err = c.Start()
		}
		// Our copies of the pipes: a stage sees the end of its input
		// (or its reader gone) only once all the others are closed.
		closeFile(c.Stdin)
		closeFile(c.Stdout)
	}
	return err
}

func closeFile(f any) {
	if f, ok := f.(*os.File); ok && f != os.Stdin && f != os.Stdout {
		f.Close()
	}
}

// exit is one stage's end.
type exit struct {
	i  int
	st *os.ProcessState
}

// run passes stop signals on until every stage (all started) has
// exited, and returns 0 for a clean stop, 111 if a stage died.
func (p *pipeline) run(stop <-chan os.Signal) cli.Status {
	exits := make(chan exit, len(p.stages))
	for i, c := range p.stages {
		go func() {
			c.Wait()
			exits <- exit{i, c.ProcessState}
		}()
	}
	var ends []exit // in the order they were reaped
	stopping, died := false, false
	for len(ends) < len(p.stages) {
		select {
		case <-stop:
			stopping = true
			p.signal()
		case e := <-exits:
			ends = append(ends, e)
			if !stopping {
				// No stage exits on its own: mdclaim -f follows for
				// ever, and the others read until it ends.
				died, stopping = true, true
				p.signal() // stop what is left
			}
		}
	}
	return p.report(ends, died)
}

// report names each stage that failed (a signal, or an exit status not
// 0) and how, in pipeline order; not one our TERM killed while it was
// still starting (before the tool asks for the signal), which had nothing
// in hand. The order the stages are reaped in is
// not the order they died in: a stage that died takes its neighbours
// with it. If all exited 0 although none was asked to, it names the
// first reaped. At a stop, 100 is no failure: a stage says so when an
// input it handled during the drain was refused for good, which was
// parked and logged already.
func (p *pipeline) report(ends []exit, died bool) cli.Status {
	failed := false
	for i := range p.stages {
		for _, e := range ends {
			if e.i == i && !e.st.Success() && !(p.signalled && diedOf(e.st, syscall.SIGTERM)) && !(!died && e.st.ExitCode() == int(cli.Perm)) {
				p.log.Printf("%s: %s", p.stages[i].Args[0], how(e.st))
				failed = true
			}
		}
	}
	if died && !failed {
		p.log.Printf("%s: %s", p.stages[ends[0].i].Args[0], how(ends[0].st))
		failed = true
	}
	if failed {
		return cli.Temp
	}
	return cli.OK
}

// signal sends SIGTERM to each stage still running. A second one takes
// a stage's stop a step further (mdpipe(7) "Stopping").
func (p *pipeline) signal() {
	p.signalled = true
	for _, c := range p.stages {
		if c.Process != nil {
			// ErrProcessDone for a stage already waited for.
			c.Process.Signal(syscall.SIGTERM)
		}
	}
}

func (p *pipeline) waitAll() {
	for _, c := range p.stages {
		if c.Process != nil {
			c.Wait()
		}
	}
}

// diedOf reports whether st is a death by sig.
func diedOf(st *os.ProcessState, sig syscall.Signal) bool {
	ws, ok := st.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// how says how a stage ended: "exited 111", "killed by signal KILL".
func how(st *os.ProcessState) string {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + strings.TrimPrefix(unix.SignalName(ws.Signal()), "SIG")
	}
	return fmt.Sprintf("exited %d", st.ExitCode())
}

// CheckEnvDir refuses a file in dir, for a variable the pipeline reads,
// that holds more than one non-empty line. An envdir keeps only the
// first line of a file, so a multi-line command pasted into
// env/MDSWEEP_COMMAND would run as half a command. No dir: nothing to
// check.
func CheckEnvDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cannot read '%s': %v", dir, err)
	}
	for _, e := range ents {
		if !pipelineVar(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		path := dir + "/" + e.Name()
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("cannot read '%s': %v", path, err)
		}
		n := 0
		for _, line := range strings.Split(string(b), "\n") {
			if strings.TrimSpace(line) != "" {
				n++
			}
		}
		if n > 1 {
			return fmt.Errorf("'%s': %d lines, and an envdir keeps only the first: put the value on one line (a longer command in a script)", path, n)
		}
	}
	return nil
}

// pipelineVar reports whether the pipeline reads the variable name: the
// service's own, the stop's grace, and every tool's.
func pipelineVar(name string) bool {
	switch name {
	case "MAILDIR", "PATH", "MDPIPE_GRACE":
		return true
	}
	for _, p := range []string{"MDCLAIM_", "MDROUTE_", "MDSWEEP_", "MDFAIL_", "MDPIPE_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// commandLine is the pipeline as a shell would write it.
func (p *pipeline) commandLine() string {
	cmds := make([]string, len(p.stages))
	for i, c := range p.stages {
		cmds[i] = strings.Join(c.Args, " ")
	}
	return strings.Join(cmds, " | ")
}

// settings are the pipeline's variables that are set, sorted, as NAME=value
// (each tool reads its own: mdpipe(7), ENVIRONMENT): what the start line
// says the service runs with, since the stages' flags come from them.
func settings(env []string) string {
	var set []string
	for _, kv := range env {
		name, v, _ := strings.Cut(kv, "=")
		if v != "" && name != "PATH" && pipelineVar(name) {
			set = append(set, kv)
		}
	}
	if len(set) == 0 {
		return "no settings in the environment"
	}
	sort.Strings(set)
	return strings.Join(set, " ")
}
