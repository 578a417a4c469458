package testkit

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Stage is one command of a pipeline and what it left.
type Stage struct {
	Name   string
	Cmd    *exec.Cmd
	Stderr bytes.Buffer
	Status int
}

// RunPipeline runs the commands (each a tool of bin and its arguments)
// connected by pipes, as own, the way sh runs `a | b | c | d`, and returns
// each stage and the last one's stdout once all have exited. A pipeline
// still running after a minute is killed and fails the test.
func RunPipeline(t testing.TB, bin string, own Owner, cmds [][]string) ([]*Stage, string) {
	t.Helper()
	return RunPipelineEnv(t, bin, own, nil, cmds)
}

// RunPipelineEnv is RunPipeline with env added to each command's
// environment, as a service's env/ directory would add it.
func RunPipelineEnv(t testing.TB, bin string, own Owner, env []string, cmds [][]string) ([]*Stage, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stages []*Stage
	var last bytes.Buffer
	for i, c := range cmds {
		// setpriv, not a Credential in SysProcAttr: this is the command
		// line a run script would use.
		args := append([]string{"--reuid=" + strconv.Itoa(own.UID), "--regid=" + strconv.Itoa(own.GID),
			"--init-groups", "--", filepath.Join(bin, c[0])}, c[1:]...)
		s := &Stage{Name: c[0], Cmd: exec.CommandContext(ctx, "setpriv", args...)}
		s.Cmd.Dir = "/"
		// No MD* variables from whoever runs the test.
		s.Cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
		s.Cmd.Stderr = &s.Stderr
		if i > 0 {
			out, err := stages[i-1].Cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			s.Cmd.Stdin = out
		}
		stages = append(stages, s)
	}
	stages[len(stages)-1].Cmd.Stdout = &last
	for _, s := range stages {
		if err := s.Cmd.Start(); err != nil {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	for _, s := range stages {
		err := s.Cmd.Wait()
		s.Status = s.Cmd.ProcessState.ExitCode()
		if _, ok := err.(*exec.ExitError); err != nil && !ok {
			t.Fatalf("%s: %v", s.Name, err)
		}
	}
	if ctx.Err() != nil {
		t.Fatalf("pipeline still running after a minute, killed")
	}
	return stages, last.String()
}
