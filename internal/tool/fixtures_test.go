package tool

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"mdpipe/internal/testkit"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The end-to-end tests run the four tools as processes: the test binary
// under the tools' names, on the PATH that TestMain (testscript.Main) set
// up. They share the helpers below.

// mtaDir holds real MTA deliveries (see its README.md and index.tsv).
const mtaDir = "../../testdata/mta"

// delivery is one file an MTA wrote, with the list queues it must reach.
type delivery struct {
	file  string   // under mtaDir
	base  string   // its maildir unique name B
	dests []string // LIST/SUBQUEUE, sorted, each once
}

// mtaDeliveries reads index.tsv for the deliveries of the MTA set-ups
// that put a whole list domain into one maildir: Postfix virtual(8), Exim
// lists and Exim batched. The destinations are derived from the SMTP RCPT
// TO column, narrowed to the addresses this file was delivered for (a
// two-recipient transaction gives one file per recipient, except Exim's
// batch which gives one file for both), never from mdroute itself.
func mtaDeliveries(t *testing.T) []delivery {
	t.Helper()
	f, err := os.Open(filepath.Join(mtaDir, "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []delivery
	sc := bufio.NewScanner(f)
	sc.Scan() // the header line
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 6 {
			t.Fatalf("index.tsv: short line %q", sc.Text())
		}
		file := col[0]
		if !strings.HasPrefix(file, "postfix/virtual/") && !strings.HasPrefix(file, "exim/") {
			continue
		}
		rcpts := strings.Fields(col[3])
		var mine []string
		for _, h := range strings.Split(col[5], " | ") {
			name, value, _ := strings.Cut(h, ": ")
			if name != "X-Original-To" && name != "Envelope-to" {
				continue
			}
			for _, a := range strings.Split(value, ",") {
				mine = append(mine, strings.TrimSpace(a))
			}
		}
		if len(mine) == 0 {
			t.Fatalf("index.tsv: %s: no envelope recipient header", file)
		}
		d := delivery{file: file, base: filepath.Base(file)}
		for _, a := range mine {
			if !slices.Contains(rcpts, a) {
				t.Fatalf("index.tsv: %s: %s is not among RCPT TO %v", file, a, rcpts)
			}
			d.dests = append(d.dests, expectedDest(a))
		}
		slices.Sort(d.dests)
		d.dests = slices.Compact(d.dests)
		out = append(out, d)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) < 40 {
		t.Fatalf("index.tsv: only %d deliveries of virtual/lists/batch", len(out))
	}
	return out
}

// canonical is mdroute(1)'s table: the subqueue each suffix dispatches to.
var canonical = map[string]string{
	"bounces": "bounces", "admin": "bounces", "confirm": "confirm",
	"join": "join", "subscribe": "join", "leave": "leave",
	"unsubscribe": "leave", "owner": "owner", "request": "request",
}

// expectedDest is the LIST/SUBQUEUE an envelope recipient must reach, as
// mdroute(1) states it: case folded, cut at the first '+', the last
// -word a subqueue when it is one of the known ones.
func expectedDest(addr string) string {
	local, _, _ := strings.Cut(strings.ToLower(addr), "@")
	local, _, _ = strings.Cut(local, "+")
	if i := strings.LastIndexByte(local, '-'); i > 0 {
		if sub, ok := canonical[local[i+1:]]; ok {
			return local[:i] + "/" + sub
		}
	}
	return local + "/post"
}

// unroutable are messages no list can take, each with why.
var unroutable = map[string]string{
	"1795894100.Mnohdr.test":   "Subject: no envelope recipient at all\n\nbody\n",
	"1795894101.Mbadname.test": "Delivered-To: bad!list@lists.example.test\nSubject: a list name outside the safe alphabet\n\nbody\n",
	"1795894102.Mdotname.test": "Envelope-to: .hidden@lists.example.test\nSubject: a list name with a leading dot\n\nbody\n",
}

// fillIntake copies the MTA deliveries and the unroutable messages into
// the intake's new/, and returns the deliveries.
func fillIntake(t *testing.T, maildir string) []delivery {
	t.Helper()
	ds := mtaDeliveries(t)
	for _, d := range ds {
		b, err := os.ReadFile(filepath.Join(mtaDir, d.file))
		if err != nil {
			t.Fatal(err)
		}
		testkit.WriteFile(t, filepath.Join(maildir, "new", d.base), string(b))
	}
	for name, msg := range unroutable {
		testkit.WriteFile(t, filepath.Join(maildir, "new", name), msg)
	}
	return ds
}

// queueTree returns, for each unique name found under QUEUE, the
// LIST/SUBQUEUE maildirs whose new/ hold it (once per copy), and fails on
// anything else in the tree: a file in tmp/ or cur/, or outside a maildir.
func queueTree(t *testing.T, queue string) map[string][]string {
	t.Helper()
	got := make(map[string][]string)
	err := filepath.WalkDir(queue, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(queue, path)
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 4 || parts[2] != "new" {
			t.Errorf("queue holds %s: want only LIST/SUBQUEUE/new/B", rel)
			return nil
		}
		got[parts[3]] = append(got[parts[3]], parts[0]+"/"+parts[1])
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, dests := range got {
		slices.Sort(dests)
	}
	return got
}

// checkQueue asserts every delivery sits in exactly its destinations,
// once each, and that nothing else reached the queue.
func checkQueue(t *testing.T, queue string, ds []delivery) {
	t.Helper()
	got := queueTree(t, queue)
	for _, d := range ds {
		if !slices.Equal(got[d.base], d.dests) {
			t.Errorf("%s (%s): in %v, want %v", d.base, d.file, got[d.base], d.dests)
		}
		delete(got, d.base)
	}
	for b, dests := range got {
		t.Errorf("%s: in %v, want it nowhere in the queue", b, dests)
	}
}

// checkIntake asserts new/ and tmp/ are empty and cur/ holds exactly the
// parked failures named in parked (as B:1,X), each with the reason it was
// parked with (.B.why): no claim is left.
func checkIntake(t *testing.T, maildir string, parked []string) {
	t.Helper()
	for _, sub := range []string{"new", "tmp"} {
		if names := readDir(t, filepath.Join(maildir, sub)); len(names) > 0 {
			t.Errorf("intake %s/ holds %v, want it empty", sub, names)
		}
	}
	var want []string
	for _, b := range parked {
		want = append(want, b+":1,X", "."+b+".why")
	}
	slices.Sort(want)
	if got := readDir(t, filepath.Join(maildir, "cur")); !slices.Equal(got, want) {
		t.Errorf("intake cur/ holds %v, want %v", got, want)
	}
}

func readDir(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, de := range des {
		names = append(names, de.Name())
	}
	slices.Sort(names)
	return names
}

// toolEnv is the environment for the tools: this process's, which has the
// tools first on PATH, without any MD*_ setting of the caller's that would
// change what the tools do, plus extra.
func toolEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MDCLAIM_") && !strings.HasPrefix(kv, "MDROUTE_") &&
			!strings.HasPrefix(kv, "MDSWEEP_") && !strings.HasPrefix(kv, "MDFAIL_") && !strings.HasPrefix(kv, "MDQ_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// toolPath returns the path of one of the tools TestMain installed.
func toolPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not on PATH (TestMain installs it): %v", name, err)
	}
	return p
}

// shell runs script with sh -c in dir, and returns its stdout and stderr.
// The script's own exit status must be 0: each script records the status
// of every tool it runs in files the test then reads (sh has no pipefail).
func shell(t *testing.T, dir, script string, env ...string) (stdout, stderr string) {
	t.Helper()
	cmd := shellCmd(t, dir, script, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("sh -c %q: %v\nstderr:\n%s", script, err, errb.String())
	}
	return out.String(), errb.String()
}

// shellTimeout bounds one shell run: a tool that hangs fails its test in
// minutes, not at go test's -timeout.
const shellTimeout = 2 * time.Minute

// shellCmd returns sh -c script, in its own process group, which is killed
// whole if it outlives shellTimeout or the test.
func shellCmd(t *testing.T, dir, script string, env ...string) *exec.Cmd {
	t.Helper()
	toolPath(t, "mdclaim")
	ctx, cancel := context.WithTimeout(context.Background(), shellTimeout)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, "sh", "-c", script)
	cmd.Dir = dir
	cmd.Env = toolEnv(env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// emptyIntake returns a fresh test directory and, below it, an empty
// intake maildir and the path of the queue, which makeLists makes.
func emptyIntake(t *testing.T) (dir, maildir, queue string) {
	t.Helper()
	dir = t.TempDir()
	maildir = testkit.Maildir(t, filepath.Join(dir, "intake"), 0o755)
	return dir, maildir, filepath.Join(dir, "queue")
}

// streamingScript is mdpipe(7)'s streaming composition over $MAILDIR into
// the tree $QUEUE. Each tool's exit status goes to NAME.rc in the
// script's directory: sh has no pipefail.
const streamingScript = `
	{ mdclaim "$MAILDIR"; echo $? >mdclaim.rc; } |
	{ mdroute; echo $? >mdroute.rc; } |
	{ mdsweep -q "$QUEUE"; echo $? >mdsweep.rc; } |
	{ mdfail; echo $? >mdfail.rc; }`

// runStreaming runs streamingScript once in dir and returns what the
// pipeline printed and logged and each tool's exit status, as
// fmtStatuses writes them.
func runStreaming(t *testing.T, dir, maildir, queue string) (stdout, stderr, st string) {
	t.Helper()
	stdout, stderr = shell(t, dir, streamingScript, "MAILDIR="+maildir, "QUEUE="+queue)
	return stdout, stderr, fmtStatuses(statuses(t, dir, "mdclaim", "mdroute", "mdsweep", "mdfail"))
}

// statuses reads the exit statuses the shell recorded in dir/NAME.rc.
func statuses(t *testing.T, dir string, names ...string) map[string]string {
	t.Helper()
	got := make(map[string]string)
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n+".rc"))
		if err != nil {
			t.Fatalf("no exit status for %s: %v", n, err)
		}
		got[n] = strings.TrimSpace(string(b))
	}
	return got
}

// unroutableNames returns the names of the unroutable messages, sorted.
func unroutableNames() []string {
	var names []string
	for n := range unroutable {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// lines splits output into its lines, sorted.
func lines(s string) []string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) == 1 && l[0] == "" {
		return nil
	}
	slices.Sort(l)
	return l
}

func fmtStatuses(m map[string]string) string {
	var b strings.Builder
	for _, k := range []string{"mdclaim", "mdroute", "mdsweep", "mdfail"} {
		if v, ok := m[k]; ok {
			fmt.Fprintf(&b, "%s=%s ", k, v)
		}
	}
	return strings.TrimSpace(b.String())
}

// makeLists makes QUEUE and the directory of every list ds go to: a list
// exists when its directory does (mdsweep makes lists only with -C).
func makeLists(t *testing.T, queue string, ds []delivery) {
	t.Helper()
	for _, d := range ds {
		for _, dest := range d.dests {
			list, _, _ := strings.Cut(dest, "/")
			if err := os.MkdirAll(filepath.Join(queue, list), 0o777); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(queue, 0o777); err != nil {
		t.Fatal(err)
	}
}
