package hostile

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// site is one intake maildir and its queue, in a directory of their own.
// The queue sits two levels down, so that a list name "../../etc" that
// escaped it would write inside the test's directory, where the
// snapshot sees it.
type site struct {
	t      *testing.T
	root   string
	intake string
	queue  string
	before []string // everything outside the queue and the intake's messages
}

func newSite(t *testing.T) *site {
	root := t.TempDir()
	s := &site{t: t, root: root, intake: filepath.Join(root, "intake"),
		queue: filepath.Join(root, "spool", "mdpipe", "queue")}
	testkit.Maildir(t, s.intake, 0o755)
	s.mkdir(s.queue)
	// A list exists when its directory does (mdsweep makes none without -C).
	s.mkdir(filepath.Join(s.queue, "mylist"))
	s.mkdir(filepath.Join(s.queue, "other"))
	s.mkdir(filepath.Join(root, "etc"))
	s.write(filepath.Join(root, "etc", "passwd"), "root:x:0:0::/root:/bin/sh\n")
	return s
}

func (s *site) mkdir(dir string) {
	s.t.Helper()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		s.t.Fatal(err)
	}
}

func (s *site) write(path, content string) {
	s.t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o666); err != nil {
		s.t.Fatal(err)
	}
}

// readOnly makes dirs 0555 until the test ends, then writable again, so
// that the test's user can remove its temporary directory.
func (s *site) readOnly(dirs ...string) {
	s.t.Helper()
	for _, d := range dirs {
		if err := os.Chmod(d, 0o555); err != nil {
			s.t.Fatal(err)
		}
		s.t.Cleanup(func() { os.Chmod(d, 0o755) })
	}
}

// deliver puts a message into new/ the MTA way, and returns its name B.
func (s *site) deliver(b, content string) string {
	s.t.Helper()
	testkit.Deliver(s.t, s.intake, b, content)
	return b
}

// control delivers a well-formed message for mylist, which every test
// expects handed off: a hostile input must not stop the others.
func (s *site) control() string {
	return s.deliver("1700000000.M1P1Q1.control", okMessage)
}

const okMessage = "Delivered-To: mylist@lists.example.test\nFrom: a@example.org\nSubject: fine\n\nbody\n"

// snapshot records every path outside the queue and outside the intake's
// new/, cur/ and tmp/, where the tools may write.
func (s *site) snapshot() []string {
	var out []string
	filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if p == s.queue {
			return fs.SkipDir
		}
		out = append(out, p)
		if filepath.Dir(p) == s.intake && d.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
	sort.Strings(out)
	return out
}

// mark takes the snapshot the end of the test compares with.
func (s *site) mark() {
	s.before = s.snapshot()
	s.t.Cleanup(s.nothingOutside)
}

// nothingOutside checks (mdpipe(7), RULES: nothing outside QUEUE) that nothing was written outside QUEUE
// (nor in the intake beyond its three directories), and the queue holds
// maildirs of safe names only.
func (s *site) nothingOutside() {
	if s.before == nil {
		return
	}
	after := s.snapshot()
	if strings.Join(after, "\n") != strings.Join(s.before, "\n") {
		s.t.Errorf("written outside the queue:\nbefore %q\nafter  %q", s.before, after)
	}
	safe := regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}(@[a-z0-9][a-z0-9._-]*)?/[a-z0-9][a-z0-9._-]{0,63}(/(tmp|new|cur)(/[^/]+)?)?$`)
	filepath.WalkDir(s.queue, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(s.queue, p)
		if err != nil || rel == "." || !strings.Contains(rel, "/") && d.IsDir() {
			return nil
		}
		if !safe.MatchString(rel) {
			s.t.Errorf("unexpected path in the queue: %q", rel)
		}
		return nil
	})
}

// result is what a run of a shell pipeline left.
type result struct {
	status []int // of each command of the pipeline
	stdout string
	stderr string
}

// sh runs a bash pipeline with the tools on PATH, $INTAKE and $QUEUE set,
// and records each command's exit status (PIPESTATUS). $AS is the command
// prefix as (see nobody), for the script to put before a tool.
func (s *site) sh(script string, as ...string) result {
	s.t.Helper()
	statusFile := filepath.Join(s.t.TempDir(), "status")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script+`; echo "${PIPESTATUS[@]}" >"$STATUS"`)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "AS="+strings.Join(as, " "),
		"INTAKE="+s.intake, "QUEUE="+s.queue, "ROOT="+s.root, "STATUS="+statusFile)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("%s: %v\n%s", script, err, errb.String())
	}
	b, err := os.ReadFile(statusFile)
	if err != nil {
		s.t.Fatal(err)
	}
	var r result
	for _, f := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(f)
		r.status = append(r.status, n)
	}
	r.stdout, r.stderr = out.String(), errb.String()
	s.t.Logf("%s\n  status %v\n  stderr: %s", script, r.status, strings.ReplaceAll(r.stderr, "\n", "\n  stderr: "))
	return r
}

// pipeline is the one-shot pipeline of the manual.
const pipeline = `mdclaim "$INTAKE" | mdroute | mdsweep -t 2s -q "$QUEUE" | mdfail`

// reason asserts that stderr holds a line of prog matching re, and that
// every line of stderr is one short `prog: ...` line.
func (r result) reason(t *testing.T, prog, re string) {
	t.Helper()
	want := regexp.MustCompile("^" + prog + ": .*" + re)
	found := false
	for _, line := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
		if line == "" {
			continue
		}
		if !regexp.MustCompile(`^md(claim|route|sweep|fail): `).MatchString(line) || len(line) > 600 {
			t.Errorf("not a one-line reason: %.200q (%d bytes)", line, len(line))
		}
		found = found || want.MatchString(line)
	}
	if !found {
		t.Errorf("stderr has no line matching %q:\n%s", want, r.stderr)
	}
}

// wantStatus checks the exit status of each command of the pipeline.
func (r result) wantStatus(t *testing.T, want ...int) {
	t.Helper()
	if len(r.status) != len(want) {
		t.Errorf("exit statuses %v, want %v", r.status, want)
		return
	}
	for i := range want {
		if want[i] >= 0 && r.status[i] != want[i] {
			t.Errorf("exit statuses %v, want %v", r.status, want)
			return
		}
	}
}

// where says where message B is: "new", "claimed", "X", or the queue
// directory LIST/SUBQUEUE, and fails the test if it is nowhere or in
// more than one place.
func (s *site) where(b string) string {
	s.t.Helper()
	var at []string
	for state, p := range map[string]string{
		"new":     filepath.Join(s.intake, "new", b),
		"claimed": filepath.Join(s.intake, "cur", b+":1,P"),
		"X":       filepath.Join(s.intake, "cur", b+":1,X"),
	} {
		if _, err := os.Lstat(p); err == nil {
			at = append(at, state)
		}
	}
	found, _ := filepath.Glob(filepath.Join(s.queue, "*", "*", "new", b))
	for _, p := range found {
		rel, _ := filepath.Rel(s.queue, filepath.Dir(filepath.Dir(p)))
		at = append(at, rel)
	}
	switch len(at) {
	case 0:
		s.t.Errorf("message %s is lost", b)
		return "lost"
	case 1:
		return at[0]
	}
	s.t.Errorf("message %s is in %d places: %v", b, len(at), at)
	return strings.Join(at, "+")
}

// wantAt asserts where message B is.
func (s *site) wantAt(b, want string) {
	s.t.Helper()
	if got := s.where(b); got != want {
		s.t.Errorf("message %s is %s, want %s", b, got, want)
	}
}

// nobody returns the command prefix that runs a tool as an unprivileged
// user when the test runs as root, and makes the site reachable for it;
// nil when the test is not root (permissions bind it already).
func (s *site) nobody() []string {
	if os.Geteuid() != 0 {
		return nil
	}
	testkit.NeedCommand(s.t, "setpriv", "util-linux") // as root, to drop privileges
	for _, d := range []string{filepath.Dir(s.root), s.root} {
		if err := os.Chmod(d, 0o755); err != nil {
			s.t.Fatal(err)
		}
	}
	return []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}
}
