package main

import (
	_ "embed"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// forkScript is the fork-per-message baseline: what Mailman 2.1's mail
// wrapper started for every message.
//
//go:embed forkwrap.py
var forkScript []byte

// system is one way of moving an intake into list queues.
type system struct {
	key    string // what the targets look it up by
	name   string
	n      int    // messages in its intake
	layout string // where a handed-off message lands, see verify
	// durable: its hand-offs are on disk when it ends (directory fsync),
	// so the table compares it with the durable floor too.
	durable bool
	run     func(b *bench, intake, queue string) (result, error)
}

func (b *bench) systems() []system {
	stream := func(bin string, noSync bool, bound int) func(*bench, string, string) (result, error) {
		return func(_ *bench, in, q string) (result, error) { return runStreamIn(bin, in, q, noSync, bound) }
	}
	sys := []system{
		{"floor", "floor (Go, bare syscalls)", b.n, "new", false, func(b *bench, in, q string) (result, error) { return b.runFloor(in, q, "") }},
		{"durable", "durable floor (+ dir fsync)", b.n, "new", true, func(b *bench, in, q string) (result, error) { return b.runFloor(in, q, "-durable") }},
		{"split", fmt.Sprintf("split floor (2 threads, ≤ %d)", splitBound), b.n, "new", false, func(b *bench, in, q string) (result, error) { return b.runFloor(in, q, "-split") }},
		{"on", "mdpipe stream, dir fsync on", b.n, "new", true, stream(b.bin, false, 0)},
		{"off", "mdpipe stream, fsync off (-s)", b.n, "new", false, stream(b.bin, true, 0)},
		// The same drain under the bound a service has (mdclaim -f holds
		// at most 64 claims): what the bound costs a backlog's drain.
		{"k64on", "stream -k 64, dir fsync on", b.n, "new", true, stream(b.bin, false, 64)},
		{"k64off", "stream -k 64, fsync off (-s)", b.n, "new", false, stream(b.bin, true, 64)},
		{"shell", "shell loop (mdpipe(7))", b.nShell, "new", false, (*bench).runShell},
		{"fork", "fork-per-message (python3)", b.nFork, "pck", false, (*bench).runFork},
	}
	if b.base != "" {
		// A build to compare with, interleaved with this one's runs, so
		// that a busy minute of a shared machine hurts both alike.
		sys = append(sys,
			system{"baseon", "base stream, dir fsync on", b.n, "new", true, stream(b.base, false, 0)},
			system{"baseoff", "base stream, fsync off (-s)", b.n, "new", false, stream(b.base, true, 0)},
			system{"basek64on", "base stream -k 64, fsync on", b.n, "new", true, stream(b.base, false, 64)},
			system{"basek64off", "base stream -k 64, fsync off", b.n, "new", false, stream(b.base, true, 64)},
			system{"baseshell", "base shell loop", b.nShell, "new", false, func(b *bench, in, q string) (result, error) { return runShellIn(b.base, in, q) }})
	}
	if b.only != "" {
		// -systems: just these, for measuring one change quickly.
		var some []system
		for _, s := range sys {
			if strings.Contains(","+b.only+",", ","+s.key+",") {
				some = append(some, s)
			}
		}
		sys = some
	}
	return sys
}

// pickSystems returns the systems with these keys, in this order.
func (b *bench) pickSystems(keys ...string) []system {
	var out []system
	for _, k := range keys {
		for _, s := range b.systems() {
			if s.key == k {
				out = append(out, s)
			}
		}
	}
	return out
}

// runLimit bounds one run, so a hung tool fails the run instead of the bench.
const runLimit = 20 * time.Minute

// runFloor runs a floor (mode "": the floor, or -durable, -split; see
// floorMain) in a process of its own, so that its rusage is its own, as
// each tool's is.
func (b *bench) runFloor(intake, queue, mode string) (result, error) {
	args := []string{b.self, "floor", intake, queue}
	if mode != "" {
		args = []string{b.self, "floor", mode, intake, queue}
	}
	p, err := startPipeline([][]string{args}, cleanEnv())
	if err != nil {
		return result{}, err
	}
	res, err := p.wait(runLimit)
	res.stages[0].name = "floor"
	return res, err
}

// streamStages is the streaming pipeline of mdpipe(7); follow adds -f.
func (b *bench) streamStages(intake, queue string, noSync, follow bool) [][]string {
	return streamStagesIn(b.bin, intake, queue, noSync, follow)
}

// streamStagesIn is streamStages with the tools in bin.
func streamStagesIn(bin, intake, queue string, noSync, follow bool) [][]string {
	tool := func(name string) string { return filepath.Join(bin, name) }
	claim := []string{tool("mdclaim")}
	if follow {
		claim = append(claim, "-f")
	}
	sweep := []string{tool("mdsweep"), "-q", queue}
	if noSync {
		sweep = append(sweep, "-s")
	}
	return [][]string{append(claim, intake), {tool("mdroute")}, sweep, {tool("mdfail")}}
}

// runStreamIn runs the streaming pipeline with the tools in bin, its
// mdclaim holding at most bound claims (0: as a one-shot mdclaim does by
// default, no bound).
func runStreamIn(bin, intake, queue string, noSync bool, bound int) (result, error) {
	stages := streamStagesIn(bin, intake, queue, noSync, false)
	if bound > 0 {
		stages[0] = append([]string{stages[0][0], "-k", strconv.Itoa(bound)}, stages[0][1:]...)
	}
	p, err := startPipeline(stages, cleanEnv())
	if err != nil {
		return result{}, err
	}
	return p.wait(runLimit)
}

// shellLoop is mdpipe(7)'s loop without -w: with -w the last mdclaim
// would wait for mail for ever; without it, it exits 1 on an empty intake
// and the loop ends.
const shellLoop = `while f=$(mdclaim -n 1 "$MAILDIR"); do
	mdroute "$f" | mdsweep -q "$QUEUE" | mdfail
done`

func (b *bench) runShell(intake, queue string) (result, error) {
	return runShellIn(b.bin, intake, queue)
}

// runShellIn runs the shell loop with the tools in bin. It starts four
// tools a message, so it shows what a tool's start costs.
func runShellIn(bin, intake, queue string) (result, error) {
	env := cleanEnv("PATH="+bin+":"+os.Getenv("PATH"), "MAILDIR="+intake, "QUEUE="+queue)
	p, err := startPipeline([][]string{{"/bin/sh", "-c", shellLoop}}, env)
	if err != nil {
		return result{}, err
	}
	return p.wait(runLimit)
}

// runFork plays the MTA of a site that pipes each message into a wrapper:
// per message it starts python3 with the message on stdin, and removes
// the message once the wrapper exits 0. The script parses the message
// with the email module and pickles it into QUEUE/LIST/SUBQUEUE/.
func (b *bench) runFork(intake, queue string) (result, error) {
	dir := filepath.Join(intake, "new")
	d, err := os.Open(dir)
	if err != nil {
		return result{}, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return result{}, err
	}
	sort.Strings(names)
	total := stage{name: "python3 (all)"}
	start := time.Now()
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if err != nil {
			return result{}, err
		}
		c := exec.Command("/usr/bin/python3", b.script, queue)
		c.Stdin = f
		out, err := c.CombinedOutput()
		f.Close()
		if err != nil {
			return result{}, fmt.Errorf("python3 %s: %v: %s", name, err, firstLine(string(out)))
		}
		if err := os.Remove(path); err != nil {
			return result{}, err
		}
		s := stageOf("python3", c.ProcessState)
		total.user += s.user
		total.sys += s.sys
		total.maxRSS = max(total.maxRSS, s.maxRSS)
		total.switches += s.switches
	}
	return result{wall: time.Since(start), stages: []stage{total}}, nil
}
