package supervise

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// testUser is the unprivileged user the services run as (run and log/run
// drop root).
const testUser = testkit.TestUser

// site is one installation: the four tools, an intake maildir, the queue
// tree and a copy of one example service directory, all under a directory
// the test user can reach (t.TempDir is root's alone).
type site struct {
	t      *testing.T
	root   string
	bin    string
	intake string
	queue  string
	sv     string // the service directory
	uid    int
	gid    int
	seq    atomic.Int64

	// envelope, if set, replaces the Delivered-To line of the messages
	// delivered.
	envelope *string
}

// needs skips the test unless it runs as root with the given programs.
func needs(t *testing.T, progs ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testkit.SkipMissing(t, "needs root, to run a supervisor whose service drops to the user %s", testUser)
	}
	for _, p := range progs {
		if _, err := exec.LookPath(p); err != nil {
			testkit.SkipMissing(t, "%s is not installed (%v)", p, err)
		}
	}
}

// newSite builds the tools and copies examples/service/<supervisor>,
// changed the way its comments tell a site to change it.
func newSite(t *testing.T, supervisor string, env map[string]string) *site {
	t.Helper()
	uid, gid := lookupUser(t)
	root := testkit.OpenTempDir(t, "mdpipe-supervise-")
	s := &site{t: t, root: root, bin: filepath.Join(root, "bin"), intake: filepath.Join(root, "intake"),
		queue: filepath.Join(root, "queue"), sv: filepath.Join(root, "service"), uid: uid, gid: gid}
	s.build()
	for _, d := range []string{"tmp", "new", "cur"} {
		s.mkdirOwned(filepath.Join(s.intake, d))
	}
	s.mkdirOwned(s.queue)
	// A list exists when its directory does: mdsweep makes none (no -C).
	for i := range 5 {
		s.mkdirOwned(filepath.Join(s.queue, fmt.Sprintf("list%d", i)))
	}
	s.mkdirOwned(filepath.Join(s.queue, "newlist"))
	// As mdpipe-service(8) says: the supervisor's directory, the one
	// env/, and mdpipe-service beside the tools (make install).
	run(t, "cp", "-R", filepath.Join(examples, supervisor), s.sv)
	run(t, "cp", "-R", filepath.Join(examples, "env"), filepath.Join(s.sv, "env"))
	s.setUser("run", "mdpipe")
	s.setUser(filepath.Join("log", "run"), "mdpipelog")
	vars := map[string]string{
		"MAILDIR":       s.intake,
		"MDSWEEP_QUEUE": s.queue,
		"PATH":          s.bin + ":/usr/bin:/bin",
	}
	for k, v := range env {
		vars[k] = v
	}
	for k, v := range vars {
		if _, err := os.Stat(filepath.Join(s.sv, "env", k)); err != nil {
			t.Fatalf("the example has no env/%s: %v", k, err)
		}
		if err := os.WriteFile(filepath.Join(s.sv, "env", k), []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func lookupUser(t *testing.T) (uid, gid int) {
	t.Helper()
	own, err := testkit.SystemUser(testUser)
	if err != nil {
		testkit.SkipMissing(t, "%v", err)
	}
	return own.UID, own.GID
}

func TestMain(m *testing.M) { testkit.Main(m) }

// build copies the commands, built once for the package as make builds
// them, into the site's bin/.
func (s *site) build() {
	run(s.t, "cp", "-R", testkit.BuildService(s.t), s.bin)
}

func (s *site) mkdirOwned(dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.t.Fatal(err)
	}
	if err := os.Chown(dir, s.uid, s.gid); err != nil {
		s.t.Fatal(err)
	}
}

// setUser changes the script's "user=" line, failing if the example no
// longer has the line its comments tell a site to change.
func (s *site) setUser(script, placeholder string) {
	p := filepath.Join(s.sv, script)
	b, err := os.ReadFile(p)
	if err != nil {
		s.t.Fatal(err)
	}
	old := "\nuser=" + placeholder + "\n"
	if bytes.Count(b, []byte(old)) != 1 {
		s.t.Fatalf("%s has no line %q for a site to change", script, strings.TrimSpace(old))
	}
	b = bytes.Replace(b, []byte(old), []byte("\nuser="+testUser+"\n"), 1)
	if err := os.WriteFile(p, b, 0o755); err != nil {
		s.t.Fatal(err)
	}
}

// deliver writes n messages into the intake the way an MTA does: a file
// of the user's in tmp/, fsynced, linked into new/, unlinked from tmp/.
// It returns their unique names.
func (s *site) deliver(n int) []string {
	s.t.Helper()
	names := make([]string, 0, n)
	for range n {
		i := s.seq.Add(1)
		name := fmt.Sprintf("%d.M%dP%d.supervise.test", time.Now().Unix(), i, os.Getpid())
		tmp := filepath.Join(s.intake, "tmp", name)
		msg := fmt.Sprintf("Delivered-To: list%d@lists.example.test\nFrom: a@example.org\n"+
			"Subject: message %d\n\nbody %d\n", i%5, i, i)
		if s.envelope != nil {
			msg = fmt.Sprintf("%sFrom: a@example.org\nSubject: message %d\n\nbody %d\n", *s.envelope, i, i)
		}
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			s.t.Fatal(err)
		}
		if _, err := f.WriteString(msg); err != nil {
			s.t.Fatal(err)
		}
		if err := f.Chown(s.uid, s.gid); err != nil {
			s.t.Fatal(err)
		}
		if err := f.Sync(); err != nil {
			s.t.Fatal(err)
		}
		f.Close()
		if err := os.Link(tmp, filepath.Join(s.intake, "new", name)); err != nil {
			s.t.Fatal(err)
		}
		os.Remove(tmp)
		names = append(names, name)
	}
	return names
}

// handedOff returns the names of the messages in the queues' new/.
func (s *site) handedOff() map[string]bool {
	got := map[string]bool{}
	dirs, _ := filepath.Glob(filepath.Join(s.queue, "*", "*", "new"))
	for _, d := range dirs {
		ents, _ := os.ReadDir(d)
		for _, e := range ents {
			got[e.Name()] = true
		}
	}
	return got
}

// claims returns the intake's claims (cur/B:1,P).
func (s *site) claims() []string { return s.cur(":1,P") }

// parked returns the intake's parked failures (cur/B:1,X).
func (s *site) parked() []string { return s.cur(":1,X") }

func (s *site) cur(suffix string) []string {
	ents, _ := os.ReadDir(filepath.Join(s.intake, "cur"))
	var names []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) {
			names = append(names, e.Name())
		}
	}
	return names
}

// waitAll polls until every named message is in a queue and no claim is
// left in the intake.
func (s *site) waitAll(names []string, within time.Duration) {
	s.t.Helper()
	waitFor(s.t, within, func() (bool, string) {
		got := s.handedOff()
		missing := 0
		for _, n := range names {
			if !got[n] {
				missing++
			}
		}
		left := s.claims()
		return missing == 0 && len(left) == 0,
			fmt.Sprintf("%d of %d messages not handed off, %d left in cur/", missing, len(names), len(left))
	})
}

// waitFor polls cond until it holds, failing with its last word at the
// deadline.
func waitFor(t *testing.T, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	testkit.WaitFor(t, within, cond)
}

// logLines returns the lines of the service's current log file, but
// for those every start and stop logged (testkit.StartOrStopLine).
func (s *site) logLines() []string {
	b, err := os.ReadFile(filepath.Join(s.sv, "log", "main", "current"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		s.t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l != "" && !testkit.StartOrStopLine(l) {
			lines = append(lines, l)
		}
	}
	return lines
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
