package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go runs on (it is part of the ABI).
const clockTicks = 100

// idle starts a follow pipeline on an empty intake, lets it settle, and
// reads each stage's utime+stime from /proc/PID/stat at the start and
// the end of the window. A waiting tool should sleep in the kernel and
// use nothing; the figures are in clock ticks (10 ms), so anything
// below 10 ms a stage shows as 0.
func (b *bench) idle(t *targets) {
	fmt.Printf("Idle: a follow pipeline with no mail for %v (CPU time from /proc/PID/stat)\n\n", b.idleFor)
	total, err := b.measureIdle()
	goal := "idle CPU ≈ 0 (≤ 0.1% of one CPU)"
	if err != nil {
		fmt.Printf("  FAILED: %v\n\n", err)
		t.add(goal, "failed", false)
		return
	}
	share := float64(total) / float64(b.idleFor) * 100
	fmt.Printf("  total %v = %.3f%% of one CPU\n\n", total, share)
	t.add(goal, fmt.Sprintf("%v in %v", total, b.idleFor), share <= 0.1)
}

func (b *bench) measureIdle() (time.Duration, error) {
	dir := filepath.Join(b.root, "idle")
	defer os.RemoveAll(dir)
	intake, queue := filepath.Join(dir, "intake"), filepath.Join(dir, "queue")
	if err := makeMaildir(intake); err != nil {
		return 0, err
	}
	// mdsweep makes no QUEUE: it must be there, or mdsweep exits 111.
	if err := os.Mkdir(queue, 0o777); err != nil {
		return 0, err
	}
	p, err := startPipeline(b.streamStages(intake, queue, false, true), cleanEnv())
	if err != nil {
		return 0, err
	}
	defer func() {
		p.stop()
		p.wait(time.Minute)
	}()
	time.Sleep(time.Second) // start-up is not idling
	before, err := p.cpu()
	if err != nil {
		return 0, err
	}
	time.Sleep(b.idleFor)
	after, err := p.cpu()
	if err != nil {
		return 0, err
	}
	var total time.Duration
	var parts []string
	for i := range after {
		d := after[i] - before[i]
		total += d
		parts = append(parts, fmt.Sprintf("%s %v", filepath.Base(p.cmds[i].Path), d))
	}
	fmt.Printf("  %s\n", strings.Join(parts, ", "))
	return total, nil
}

// cpu returns each running stage's CPU time so far.
func (p *pipeline) cpu() ([]time.Duration, error) {
	var out []time.Duration
	for _, c := range p.cmds {
		d, err := procCPU(c.Process.Pid)
		if err != nil {
			return nil, fmt.Errorf("%s is not running: %v", filepath.Base(c.Path), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// procCPU reads utime+stime (fields 14 and 15) of /proc/PID/stat. The
// command name (field 2) may hold spaces, so fields count from its ')'.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	if f[0] == "Z" {
		return 0, fmt.Errorf("exited")
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}
