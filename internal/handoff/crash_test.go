package handoff

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/intake"
	"mdpipe/internal/logline"
	"mdpipe/internal/testkit"

	"golang.org/x/sys/unix"
)

// The crash test: a hand-off that is more than one rename (a
// copy across file systems, or links into several queues) is stopped
// (SIGKILL, in a child process, so the kernel drops its locks and files
// as after a real crash) between each pair of its system calls, then the
// recovery and the hand-off run again. The message must end up in every
// destination exactly once, and nowhere else.

const (
	crashEnvStep  = "MDPIPE_CRASH_STEP"  // kill at the n-th crashPoint (1-based); 0: none
	crashEnvTrace = "MDPIPE_CRASH_TRACE" // append each step's name to this file
	crashEnvClaim = "MDPIPE_CRASH_CLAIM"
	crashEnvQueue = "MDPIPE_CRASH_QUEUE"
	crashEnvDests = "MDPIPE_CRASH_DESTS" // LIST/SUBQUEUE,LIST/SUBQUEUE
)

const crashBody = "Delivered-To: mylist@lists.example.test\nSubject: crash\n\nbody\n"

// TestCrashHelper is the child: it hands one claim off, as mdsweep does,
// and kills itself at the chosen step. It does nothing when run as a test.
func TestCrashHelper(t *testing.T) {
	if os.Getenv(crashEnvQueue) == "" {
		return
	}
	step, _ := strconv.Atoi(os.Getenv(crashEnvStep))
	trace, err := os.OpenFile(os.Getenv(crashEnvTrace), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	crashAt = func(name string) {
		n++
		fmt.Fprintln(trace, name)
		if n == step {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	defer func() { crashAt = nil }()
	c, err := intake.ParseClaim(os.Getenv(crashEnvClaim))
	if err != nil {
		t.Fatal(err)
	}
	target := &MaildirTree{Queue: os.Getenv(crashEnvQueue), Create: true}
	if err := target.HandOff(context.Background(), c, crashDests(os.Getenv(crashEnvDests))); err != nil {
		t.Fatal(err)
	}
	if err := target.Commit(); err != nil {
		t.Fatal(err)
	}
}

func crashDests(s string) []Dest {
	var ds []Dest
	for _, d := range strings.Split(s, ",") {
		list, sub, _ := strings.Cut(d, "/")
		ds = append(ds, Dest{List: list, Subqueue: sub, Recipient: list + "@lists.example.test"})
	}
	return ds
}

// crashQueue returns a directory on another file system than dir: a
// tmpfs mounted for the test, or else /dev/shm.
func crashQueue(t *testing.T, dir string) string {
	q := filepath.Join(t.TempDir(), "queue")
	if err := os.Mkdir(q, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", q, "tmpfs", 0, "size=4m"); err == nil {
		t.Cleanup(func() {
			if err := unix.Unmount(q, 0); err != nil {
				t.Errorf("unmount %s: %v", q, err)
			}
		})
		return q
	}
	if shm, err := os.MkdirTemp("/dev/shm", "mdpipe-crash"); err == nil {
		t.Cleanup(func() { os.RemoveAll(shm) })
		var a, b unix.Stat_t
		if unix.Stat(dir, &a) == nil && unix.Stat(shm, &b) == nil && a.Dev != b.Dev {
			return shm
		}
	}
	testkit.SkipMissing(t, "cannot mount a tmpfs (needs root or CAP_SYS_ADMIN), and /dev/shm is not another file system")
	return ""
}

// crashSite is an intake holding one claim, and a queue elsewhere.
type crashSite struct {
	intake, queue, claim, b string
}

func newCrashSite(t *testing.T, sameFS bool) crashSite {
	dir := t.TempDir()
	s := crashSite{intake: filepath.Join(dir, "intake"), b: "1700000000.M1P1Q1.crash"}
	mkMaildir(t, s.intake)
	s.claim = filepath.Join(s.intake, "cur", s.b+intake.ClaimInfo)
	if err := os.WriteFile(s.claim, []byte(crashBody), 0o644); err != nil {
		t.Fatal(err)
	}
	if sameFS {
		s.queue = filepath.Join(dir, "queue")
		if err := os.Mkdir(s.queue, 0o755); err != nil {
			t.Fatal(err)
		}
	} else {
		s.queue = crashQueue(t, dir)
	}
	return s
}

// child runs the helper, killed at step (0: not at all), and returns the
// names of the steps it passed.
func (s crashSite) child(t *testing.T, step int, dests string) []string {
	trace := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnvStep+"="+strconv.Itoa(step), crashEnvTrace+"="+trace,
		crashEnvClaim+"="+s.claim, crashEnvQueue+"="+s.queue, crashEnvDests+"="+dests)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	killed := errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()
	if step > 0 && !killed || step == 0 && err != nil {
		t.Fatalf("helper at step %d: %v\n%s", step, err, out)
	}
	b, _ := os.ReadFile(trace)
	return strings.Fields(string(b))
}

// rerun is what happens after the crash: the next pipeline's mdclaim -r
// returns the claim to new/ and claims it again, and mdsweep hands it
// off. No step of it may be skipped, and none may be needed twice.
func (s crashSite) rerun(t *testing.T, dests string) {
	var log strings.Builder
	l := logline.New("crash-test")
	l.SetOutput(&log)
	if err := intake.Recover(s.intake, time.Nanosecond, func(string, string) {}, nil); err != nil {
		t.Fatalf("recover: %v", err)
	}
	c := &intake.Claimer{Maildir: s.intake, Log: l}
	var claims []string
	if _, err := c.Scan(0, func(p string) { claims = append(claims, p) }); err != nil {
		t.Fatalf("claim: %v", err)
	}
	target := &MaildirTree{Queue: s.queue, Create: true}
	for _, p := range claims {
		cl, err := intake.ParseClaim(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := target.HandOff(context.Background(), cl, crashDests(dests)); err != nil {
			t.Errorf("hand-off again: %v", err)
		}
	}
	if err := target.Close(); err != nil {
		t.Errorf("commit: %v", err)
	}
	if log.Len() > 0 {
		t.Logf("log: %s", log.String())
	}
}

// check asserts exactly-once: B in each destination's new/ once, with
// its bytes; nothing left in the intake or in the queue's tmp/.
func (s crashSite) check(t *testing.T, dests string) {
	for _, d := range strings.Split(dests, ",") {
		dir := filepath.Join(s.queue, d)
		got, err := os.ReadDir(filepath.Join(dir, "new"))
		if err != nil || len(got) != 1 || got[0].Name() != s.b {
			t.Errorf("%s/new holds %v (%v); want only %s", d, got, err, s.b)
			continue
		}
		if b, err := os.ReadFile(filepath.Join(dir, "new", s.b)); err != nil || string(b) != crashBody {
			t.Errorf("%s/new/%s holds %q, %v", d, s.b, b, err)
		}
		if left, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(left) > 0 {
			t.Errorf("%s/tmp holds %s", d, left[0].Name())
		}
	}
	for _, sub := range []string{"new", "cur", "tmp"} {
		if left, _ := os.ReadDir(filepath.Join(s.intake, sub)); len(left) > 0 {
			t.Errorf("intake %s/ holds %s", sub, left[0].Name())
		}
	}
}

func TestCrashEveryStep(t *testing.T) {
	if os.Getenv(crashEnvQueue) != "" {
		t.Skip("in the helper")
	}
	for _, tc := range []struct {
		dests  string
		sameFS bool // hard links into each destination, no copy
	}{{"mylist/post", false}, {"mylist/post,other/bounces", false}, {"mylist/post,other/bounces", true}} {
		dests := tc.dests
		name := strings.ReplaceAll(dests, "/", "-")
		if tc.sameFS {
			name += "-same-fs"
		}
		t.Run(name, func(t *testing.T) {
			// A run to the end lists the steps, and must itself work.
			s := newCrashSite(t, tc.sameFS)
			steps := s.child(t, 0, dests)
			s.check(t, dests)
			want := []string{"locked", "tmp-synced", "renamed", "placed", "dirs-synced", "unlinked"}
			if tc.sameFS {
				want = []string{"locked", "placed", "dirs-synced", "unlinked"}
			}
			for _, want := range want {
				if !strings.Contains(" "+strings.Join(steps, " ")+" ", " "+want+" ") {
					t.Fatalf("steps %v lack %q: is the crash hook still in maildir.go?", steps, want)
				}
			}
			t.Logf("steps: %v", steps)
			for i, name := range steps {
				t.Run(fmt.Sprintf("%02d-%s", i+1, name), func(t *testing.T) {
					s := newCrashSite(t, tc.sameFS)
					if got := s.child(t, i+1, dests); len(got) != i+1 {
						t.Fatalf("killed after %d steps, want %d", len(got), i+1)
					}
					s.rerun(t, dests)
					s.check(t, dests)
				})
			}
		})
	}
}
