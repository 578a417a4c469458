package torture

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// The safety features (no stranded claims, bounded claims, a clean
// stop) that the torture run does not reach,
// each run as a user runs it.

// newIntake makes an intake maildir and a queue path under a test dir.
func newIntake(t *testing.T) (intake, queue string) {
	root := t.TempDir()
	intake, queue = filepath.Join(root, "intake"), filepath.Join(root, "queue")
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(intake, d), 0o777); err != nil {
			t.Fatal(err)
		}
	}
	return intake, queue
}

// shell runs a shell script with the tools on PATH and returns its
// combined output and exit status.
func shell(t *testing.T, script string, env ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", script)
	cmd.Env = append(append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH")), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", script, err)
	}
	return string(out), code
}

func count(t *testing.T, dir string) int {
	t.Helper()
	return len(testkit.Entries(t, dir))
}

// mdclaim -x claims the parked failures, so that the same pipeline
// retries them once their cause is fixed (here: a list not yet known).
func TestRetryParked(t *testing.T) {
	intake, queue := newIntake(t)
	makeLists(t, queue)
	lists := filepath.Join(t.TempDir(), "lists")
	if err := os.WriteFile(lists, []byte("alpha\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("17000000%02d.M1P1Q%d.x", i, i)
		if err := os.WriteFile(filepath.Join(intake, "new", name), message(i), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{"I=" + intake, "Q=" + queue, "L=" + lists}
	pipe := `mdclaim $FLAG "$I" | mdroute -l "$L" | mdsweep -q "$Q" | mdfail >/dev/null`
	shell(t, pipe, env...)
	parked := count(t, filepath.Join(intake, "cur"))
	if parked != 15 { // messages of the three lists not yet known
		t.Fatalf("%d parked, want 15", parked)
	}
	if err := os.WriteFile(lists, []byte("alpha\nbeta\ngamma\ndelta-x\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	// mdroute rereads a changed list file at most once a second, by
	// mtime; a fresh process reads it anyway.
	out, code := shell(t, strings.Replace(pipe, "$FLAG", "-x", 1), env...)
	if code != 0 || out != "" {
		t.Errorf("retry: status %d, output %q", code, out)
	}
	if n := count(t, filepath.Join(intake, "cur")); n != 0 {
		t.Errorf("%d still in cur/ after the retry", n)
	}
	a, err := account(intake, queue, 20)
	if err != nil {
		t.Fatal(err)
	}
	if !a.ok() {
		t.Errorf("accounting: %v %v", a, a.problems)
	}
}

// In follow mode mdclaim removes intake tmp/ files older than 36 hours
// (an MTA's abandoned deliveries), and leaves the younger ones.
func TestFollowCleansTmp(t *testing.T) {
	intake, _ := newIntake(t)
	old := filepath.Join(intake, "tmp", "1600000000.M1P1.old")
	young := filepath.Join(intake, "tmp", "1700000000.M1P1.young")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	then := time.Now().Add(-37 * time.Hour)
	if err := os.Chtimes(old, then, then); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "mdclaim"), "-f", intake)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe() // a pipe, as in a pipeline
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !testkit.Until(10*time.Second, func() bool { return !fileExists(old) }) {
		t.Errorf("%s not removed", old)
	}
	if !fileExists(young) {
		t.Errorf("%s removed", young)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	stdout.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("mdclaim -f after SIGTERM: %v; stderr %s", err, stderr.String())
	}
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// SIGTERM ends mdsweep's wait between retries at once: exit 0, the
// message left claimed for the next run.
func TestStopDuringBackoff(t *testing.T) {
	intake, queue := newIntake(t)
	if err := os.WriteFile(filepath.Join(intake, "new", "1700000000.M1P1.x"), message(0), 0o666); err != nil {
		t.Fatal(err)
	}
	records := filepath.Join(t.TempDir(), "records")
	if out, code := shell(t, `mdclaim "$I" | mdroute >"$R"`, "I="+intake, "R="+records); code != 0 {
		t.Fatalf("claim: %d %s", code, out)
	}
	// A list whose directory cannot be written: a temporary failure. Root
	// writes anywhere, so then mdsweep runs as nobody.
	if err := os.Mkdir(queue, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(queue, lists[0]), 0o555); err != nil {
		t.Fatal(err)
	}
	argv := []string{filepath.Join(bin, "mdsweep"), "-q", queue}
	if os.Geteuid() == 0 {
		for _, d := range []string{filepath.Dir(filepath.Dir(intake)), filepath.Dir(intake)} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		argv = append([]string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	in, err := os.Open(records)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd.Stdin = in
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Wait for the second retry, in its 2 s wait, then stop.
	var log bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(log.String(), "retrying in 2s") {
		n, err := r.Read(buf)
		log.Write(buf[:n])
		if err != nil {
			t.Fatalf("mdsweep's log ended: %v\n%s", err, log.String())
		}
	}
	stopped := time.Now()
	cmd.Process.Signal(syscall.SIGTERM)
	err = cmd.Wait()
	if d := time.Since(stopped); d > time.Second {
		t.Errorf("SIGTERM took %v to stop the wait", d)
	}
	if err != nil {
		t.Errorf("mdsweep after SIGTERM: %v\n%s", err, log.String())
	}
	if n := count(t, filepath.Join(intake, "cur")); n != 1 {
		t.Errorf("%d claims left, want the one in hand", n)
	}
}

// Directory fsyncs are grouped: a batch of hand-offs costs one fsync per
// directory, not one per message; -s turns them off.
func TestFsyncBatched(t *testing.T) {
	testkit.NeedCommand(t, "strace", "strace") // to count the fsync calls
	for _, tc := range []struct {
		flags    string
		min, max int
	}{{"", 2, 12}, {"-s", 0, 0}} {
		t.Run("flags"+tc.flags, func(t *testing.T) {
			intake, queue := newIntake(t)
			makeLists(t, queue)
			// The subqueues exist already: making one costs an fsync of
			// its parent (a new directory is durable only then), even
			// with -s, and this counts the fsyncs of hand-offs alone.
			for i := 0; i < 4; i++ {
				for _, d := range []string{"tmp", "cur", "new"} {
					if err := os.MkdirAll(filepath.Join(queue, lists[i], "post", d), 0o777); err != nil {
						t.Fatal(err)
					}
				}
			}
			const n = 200
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("1700000%03d.M1P1Q%d.x", i, i)
				if err := os.WriteFile(filepath.Join(intake, "new", name), message(i%4), 0o666); err != nil {
					t.Fatal(err)
				}
			}
			// Records from a file: all are waiting, so they make one batch.
			tmp := t.TempDir()
			trace, records := filepath.Join(tmp, "strace"), filepath.Join(tmp, "records")
			out, code := shell(t, `mdclaim "$I" | mdroute >"$R" && strace -f -qq -e trace=fsync,fdatasync -o "$T" mdsweep $F -q "$Q" <"$R" | mdfail`,
				"I="+intake, "Q="+queue, "T="+trace, "F="+tc.flags, "R="+records)
			if code != 0 {
				t.Fatalf("status %d: %s", code, out)
			}
			b, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			calls := strings.Count(string(b), "fsync(")
			t.Logf("%d messages, %d fsync calls", n, calls)
			if calls < tc.min || calls > tc.max {
				t.Errorf("%d fsync calls for %d hand-offs into 4 queues, want %d to %d:\n%s", calls, n, tc.min, tc.max, b)
			}
			if a, _ := account(intake, queue, 4); a.handedOff != 4 {
				t.Errorf("accounting: %v", a)
			}
		})
	}
}
