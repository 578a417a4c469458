package service

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// service is mdpipe-service running on an intake maildir, with the
// tools beside it on PATH and a hand-off command that appends each
// message's LIST to the file taken.
type service struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string // the service directory: its working directory
	intake string
	taken  string
	stderr bytes.Buffer
	done   chan struct{}
	seq    int
}

// newService prepares a service directory; env adds to the environment
// (MAILDIR, PATH, MDSWEEP_COMMAND are set).
func newService(t *testing.T, command string, env ...string) *service {
	t.Helper()
	root := t.TempDir()
	s := &service{t: t, dir: filepath.Join(root, "sv"), intake: filepath.Join(root, "intake"),
		taken: filepath.Join(root, "taken"), done: make(chan struct{})}
	for _, d := range []string{s.dir, s.intake + "/tmp", s.intake + "/new", s.intake + "/cur"} {
		testkit.Mkdir(t, d, 0o755)
	}
	bin := testkit.BuildService(t)
	s.cmd = exec.Command(filepath.Join(bin, "mdpipe-service"))
	s.cmd.Dir = s.dir
	s.cmd.Env = append([]string{"MAILDIR=" + s.intake, "PATH=" + bin + ":/usr/bin:/bin",
		"MDSWEEP_COMMAND=" + command, "TAKEN=" + s.taken, "MDPIPE_GRACE=10s"}, env...)
	s.cmd.Stderr = &s.stderr
	return s
}

func (s *service) start() {
	s.t.Helper()
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.done) }()
	s.t.Cleanup(func() {
		for _, p := range s.stages() {
			syscall.Kill(p, syscall.SIGKILL)
		}
		s.cmd.Process.Kill()
		<-s.done
	})
}

// stages returns the pids of the service's children by name.
func (s *service) stages() map[string]int {
	st := map[string]int{}
	for _, pid := range testkit.Children(s.cmd.Process.Pid) {
		st[testkit.Comm(pid)] = pid
	}
	return st
}

// running waits for the four stages.
func (s *service) running() map[string]int {
	s.t.Helper()
	var st map[string]int
	testkit.WaitFor(s.t, 10*time.Second, func() (bool, string) {
		st = s.stages()
		return len(st) == 4, fmt.Sprintf("stages %v", st)
	})
	return st
}

// deliver puts a message for list into new/.
func (s *service) deliver(list string) {
	s.t.Helper()
	s.seq++
	name := fmt.Sprintf("%d.M%dP%d.service.test", time.Now().Unix(), s.seq, os.Getpid())
	testkit.Deliver(s.t, s.intake, name, "Delivered-To: "+list+"@lists.example.test\nSubject: x\n\nbody\n")
}

// exit waits for the service to exit, and returns its status.
func (s *service) exit(within time.Duration) int {
	s.t.Helper()
	select {
	case <-s.done:
	case <-time.After(within):
		s.t.Fatalf("mdpipe-service still runs after %v; stderr:\n%s", within, s.stderr.String())
	}
	return s.cmd.ProcessState.ExitCode()
}

// A stop signals each stage, not the process group: a command mdsweep
// runs sees no signal, finishes, and its message is handed off; every
// stage exits 0, the service too, and nothing is logged.
func TestStopSignalsStagesOnly(t *testing.T) {
	s := newService(t, `trap 'echo TERM >>"$TAKEN"' TERM; echo started >>"$TAKEN"; cat >/dev/null; sleep 1; echo "$LIST" >>"$TAKEN"`)
	s.start()
	st := s.running()
	s.deliver("one")
	testkit.WaitFor(t, 10*time.Second, func() (bool, string) {
		b, _ := os.ReadFile(s.taken)
		return bytes.Contains(b, []byte("started")), "the command has not started"
	})
	stop := time.Now()
	s.cmd.Process.Signal(syscall.SIGTERM)
	if code := s.exit(20 * time.Second); code != 0 {
		t.Errorf("a stop exited %d, want 0", code)
	}
	t.Logf("the stop took %v", time.Since(stop).Round(time.Millisecond))
	if got := testkit.ReadFile(t, s.taken); got != "started\none\n" {
		t.Errorf("the command wrote %q, want it to finish untouched by the stop", got)
	}
	for name, pid := range st {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("%s (pid %d) outlived the service", name, pid)
		}
	}
	if claims := testkit.Entries(t, filepath.Join(s.intake, "cur")); len(claims) > 0 {
		t.Errorf("claims left in cur/: %v", claims)
	}
	// The log holds the service's line at start, mdclaim's, and the line
	// each stage says at its stop, and nothing else: no stage failed.
	for _, l := range strings.Split(strings.TrimSuffix(s.stderr.String(), "\n"), "\n") {
		if !strings.HasPrefix(l, "mdpipe-service: starting ") && !strings.HasPrefix(l, "mdclaim: following ") &&
			!regexp.MustCompile(`^md(claim|route|sweep|fail): stopped: `).MatchString(l) {
			t.Errorf("the stop logged %q:\n%s", l, s.stderr.String())
		}
	}
	for _, tool := range []string{"mdclaim", "mdroute", "mdsweep", "mdfail"} {
		if !strings.Contains(s.stderr.String(), tool+": stopped: ") {
			t.Errorf("%s said nothing at the stop:\n%s", tool, s.stderr.String())
		}
	}
}

// A stage that dies is named, with how it died; the rest are stopped,
// and the service exits 111.
func TestStageDies(t *testing.T) {
	s := newService(t, `cat >/dev/null`)
	s.start()
	st := s.running()
	syscall.Kill(st["mdsweep"], syscall.SIGKILL)
	if code := s.exit(20 * time.Second); code != 111 {
		t.Errorf("exited %d after a stage died, want 111", code)
	}
	if want := "mdpipe-service: mdsweep: killed by signal KILL\n"; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("stderr:\n%s\nwant the line %q", s.stderr.String(), want)
	}
	for name, pid := range st {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("%s (pid %d) outlived the service", name, pid)
		}
	}
}

// What the service refuses at start: 100, one line, and no stage run.
func TestRefusedAtStart(t *testing.T) {
	s := newService(t, "cat", "MAILDIR=")
	s.start()
	if code := s.exit(10 * time.Second); code != 100 || s.stderr.String() != "mdpipe-service: no intake maildir: set it in env/MAILDIR\n" {
		t.Errorf("no MAILDIR: exit %d, stderr %q", code, s.stderr.String())
	}

	s = newService(t, "cat")
	env := filepath.Join(s.dir, "env")
	testkit.Mkdir(t, env, 0o755)
	testkit.WriteFile(t, filepath.Join(env, "MDSWEEP_COMMAND"), "cat >/dev/null &&\n  echo done\n")
	s.start()
	want := "mdpipe-service: 'env/MDSWEEP_COMMAND': 2 lines, and an envdir keeps only the first"
	if code := s.exit(10 * time.Second); code != 100 || !strings.HasPrefix(s.stderr.String(), want) ||
		strings.Count(s.stderr.String(), "\n") != 1 {
		t.Errorf("a two-line env/ file: exit %d, stderr %q", code, s.stderr.String())
	}
	if claims := testkit.Entries(t, filepath.Join(s.intake, "cur")); len(claims) > 0 {
		t.Errorf("a refused start claimed %v", claims)
	}
}

// Only the pipeline's variables are checked, and a value on one line,
// with or without its newline and blank lines after it, passes.
func TestCheckEnvDir(t *testing.T) {
	dir := t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "MDCLAIM_RECOVER"), "10m\n\n")
	testkit.WriteFile(t, filepath.Join(dir, "MAILDIR"), "/var/mail/intake")
	testkit.WriteFile(t, filepath.Join(dir, "MDFAIL_VERBOSE"), "")
	testkit.WriteFile(t, filepath.Join(dir, "MOTD"), "not\nours\n")
	if err := CheckEnvDir(dir); err != nil {
		t.Errorf("CheckEnvDir: %v", err)
	}
	if err := CheckEnvDir(filepath.Join(dir, "none")); err != nil {
		t.Errorf("no env/: %v", err)
	}
	testkit.WriteFile(t, filepath.Join(dir, "PATH"), "/usr/bin\n/bin\n")
	if err := CheckEnvDir(dir); err == nil || !strings.Contains(err.Error(), "PATH") {
		t.Errorf("a two-line PATH: %v", err)
	}
}
