// Package hostile feeds the mdpipe tools what a hostile or broken world
// can put in their way, and checks each time that the tools
// give a one-line reason, park or leave the message but never lose it,
// and write nothing outside the queue.
package hostile

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// Only regular files move (mdpipe(7), RULES: regular files only):
// anything else in new/ is left where it is, with a reason, and the real
// messages go on. Each row makes one such entry at path and returns the
// word mdclaim's line must have and the type it must still be.
func TestNonRegularInNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func(t *testing.T, s *site, path string) (word string, kind os.FileMode)
	}{
		{"Symlink", func(t *testing.T, s *site, path string) (string, os.FileMode) {
			secret := filepath.Join(s.root, "etc", "passwd")
			if err := os.Symlink(secret, path); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if b, err := os.ReadFile(secret); err != nil || string(b) != "root:x:0:0::/root:/bin/sh\n" {
					t.Errorf("the symlink's target changed: %q, %v", b, err)
				}
			})
			return "symlink", os.ModeSymlink
		}},
		// A tool that opened the FIFO would hang until the minute's
		// timeout.
		{"FIFO", func(t *testing.T, s *site, path string) (string, os.FileMode) {
			if err := syscall.Mkfifo(path, 0o666); err != nil {
				t.Fatal(err)
			}
			return "FIFO", os.ModeNamedPipe
		}},
		{"Directory", func(t *testing.T, s *site, path string) (string, os.FileMode) {
			s.mkdir(path)
			s.write(filepath.Join(path, "inside"), okMessage)
			return "directory", os.ModeDir
		}},
		// A character device 1,3 is /dev/null: reading it would hand off
		// an empty message, writing it would lose one.
		{"Device", func(t *testing.T, s *site, path string) (string, os.FileMode) {
			testkit.NeedRoot(t, "to mknod a device")
			if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
				testkit.SkipMissing(t, "mknod: %v", err)
			}
			return "device", os.ModeDevice
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			ok := s.control()
			path := filepath.Join(s.intake, "new", "1700000001.M1P1Q2."+strings.ToLower(tc.name))
			word, kind := tc.make(t, s, path)
			s.mark()
			r := s.sh(pipeline)
			r.wantStatus(t, 0, 0, 0, 0)
			r.reason(t, "mdclaim", "skipping '"+path+"': .*"+word)
			s.wantAt(ok, "mylist/post")
			if fi, err := os.Lstat(path); err != nil || fi.Mode()&kind == 0 {
				t.Errorf("the %s was not left in new/: %v", word, err)
			}
		})
	}
}

// The intake maildir is missing, or its new/ cannot be read: a temporary
// failure (exit 111) with a reason, and nothing is created in its place.

func TestIntakeMissing(t *testing.T) {
	s := newSite(t)
	s.intake = filepath.Join(s.root, "no-such-maildir")
	s.mark()
	r := s.sh(pipeline)
	r.wantStatus(t, 111, 0, 0, 0)
	r.reason(t, "mdclaim", "cannot read .*no-such-maildir/new.*no such file")
	if _, err := os.Lstat(s.intake); err == nil {
		t.Errorf("%s was created", s.intake)
	}
}

func TestIntakeNewUnreadable(t *testing.T) {
	s := newSite(t)
	ok := s.control()
	as := s.nobody()
	if err := os.Chmod(filepath.Join(s.intake, "new"), 0o300); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(filepath.Join(s.intake, "new"), 0o755) })
	s.mark()
	r := s.sh(`$AS mdclaim "$INTAKE"`, as...)
	r.wantStatus(t, 111)
	r.reason(t, "mdclaim", "cannot read .*/new.*permission denied")
	s.wantAt(ok, "new")
}

// One bad entry in new/ costs only itself: it is skipped with one line
// (mdclaim exits 100), it stays in new/, and the message behind it is
// handed off. Each row puts one such entry and returns its name and the
// line mdclaim must give for it.
func TestBadEntryInNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		put  func(t *testing.T, s *site) (entry, reason string)
	}{
		// A name whose claim name (B:1,P) would pass NAME_MAX. Sorting
		// first, it stopped every later claim.
		{"ClaimNameTooLong", func(t *testing.T, s *site) (string, string) {
			long := s.deliver("1600000000."+strings.Repeat("a", 255-len("1600000000.")), okMessage)
			return long, "skipping '.*" + long + "': its claim name would be longer than 255 bytes"
		}},
		// A file that cannot be renamed (chattr +i). Sorting first, it
		// stopped every later claim, logged every 10 s for ever.
		{"Immutable", func(t *testing.T, s *site) (string, string) {
			testkit.NeedRoot(t, "for chattr +i")
			stuck := s.deliver("1600000000.M1P1Q1.immutable", okMessage)
			p := filepath.Join(s.intake, "new", stuck)
			if out, err := exec.Command("chattr", "+i", p).CombinedOutput(); err != nil {
				testkit.SkipMissing(t, "chattr +i: %v %s", err, out)
			}
			t.Cleanup(func() { exec.Command("chattr", "-i", p).Run() })
			return stuck, "skipping '" + p + "': cannot claim: operation not permitted"
		}},
		// A name that begins with ':' was claimed as cur/:1,P, which no
		// tool parses back: it waited for ever.
		{"ColonName", func(t *testing.T, s *site) (string, string) {
			return s.deliver(":2,S", okMessage), "skipping '.*/new/:2,S': the name begins with ':'"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			ok := s.control()
			bad, reason := tc.put(t, s)
			s.mark()
			r := s.sh(pipeline)
			r.wantStatus(t, 100, 0, 0, 0)
			r.reason(t, "mdclaim", reason)
			s.wantAt(ok, "mylist/post")
			s.wantAt(bad, "new")
			if _, err := os.Lstat(filepath.Join(s.intake, "cur", ":1,P")); err == nil {
				t.Errorf("claimed as cur/:1,P")
			}
		})
	}
}

// TestJunkFloodInNew: 70,000 symlinks that sort before the mail. mdclaim
// -f burnt seconds of CPU in a loop, wrote millions of log lines (a
// "logged once" memory cleared past 10,000 names) and claimed nothing.
// Now it hands the mail off, logs each symlink once, and waits for mail
// without a rescan loop.
func TestJunkFloodInNew(t *testing.T) {
	const junk = 70_000
	s := newSite(t)
	for i := range junk {
		if err := os.Symlink("/etc/passwd", filepath.Join(s.intake, "new", fmt.Sprintf("1600000000.M%dP1.junk", i))); err != nil {
			t.Fatal(err)
		}
	}
	first := s.control()
	cmd := exec.Command("bash", "-c", `exec mdclaim -f "$INTAKE" | mdroute | mdsweep -q "$QUEUE" | mdfail`)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "INTAKE="+s.intake, "QUEUE="+s.queue)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	var lines atomic.Int64
	var other strings.Builder
	var mu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "mdclaim: skipping '") && strings.HasSuffix(sc.Text(), "': not a regular file (a symlink)") {
				lines.Add(1)
			} else if !testkit.StartOrStopLine(sc.Text()) {
				mu.Lock()
				other.WriteString(sc.Text() + "\n")
				mu.Unlock()
			}
		}
	}()
	inQueue := func(b string) func() bool {
		return func() bool {
			_, err := os.Stat(filepath.Join(s.queue, "mylist", "post", "new", b))
			return err == nil
		}
	}
	testkit.Poll(t, time.Minute, "the message behind the junk handed off", inQueue(first))
	testkit.Poll(t, time.Minute, "each symlink logged", func() bool { return lines.Load() >= junk })
	// A delivery wakes mdclaim: it reads new/ again, logs nothing again.
	second := s.deliver("1700000002.M1P1Q1.second", okMessage)
	testkit.Poll(t, time.Minute, "a later message handed off", inQueue(second))
	cpu := processCPU(t, cmd.Process.Pid)
	if n := lines.Load(); n != junk {
		t.Errorf("%d symlink lines logged, want each of the %d once", n, junk)
	}
	mu.Lock()
	if other.Len() > 0 {
		t.Errorf("other log lines:\n%s", other.String())
	}
	mu.Unlock()
	t.Logf("mdclaim's CPU over the run: %v", cpu)
	// Three reads of new/ (start, two wake-ups), not a loop: main
	// spent 13 s of CPU in 20 s.
	if cpu > 5*time.Second {
		t.Errorf("mdclaim used %v of CPU: a rescan loop?", cpu)
	}
}

// processCPU returns the CPU time (user and system) of the first child of
// pid whose command is mdclaim.
func processCPU(t *testing.T, pgid int) time.Duration {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil || !strings.Contains(string(b), "(mdclaim)") {
			continue
		}
		f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
		if pg, _ := strconv.Atoi(f[2]); pg != pgid {
			continue
		}
		u, _ := strconv.Atoi(f[11])
		s, _ := strconv.Atoi(f[12])
		return time.Duration(u+s) * time.Second / 100 // USER_HZ
	}
	t.Fatal("no mdclaim in the pipeline's process group")
	return 0
}
