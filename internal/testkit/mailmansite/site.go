// Package mailmansite runs a private GNU Mailman 3 (Debian's mailman3
// package) for the root-only integration tests: its own configuration and
// var directory, no MTA, only the LMTP runner on a free loopback port, so
// that what it accepts stays in its queue directories to be seen.
package mailmansite

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// Domain is the list domain of the tests.
const Domain = "lists.example.test"

// Site is a private Mailman instance, all owned by user list.
type Site struct {
	Root  string // the temporary tree, 0755, list's
	Cfg   string // mailman.cfg
	Queue string // Mailman's queue directory: in/, command/, bounces/...
	Port  int    // its LMTP runner's
	Own   testkit.Owner
	// Bin, if set, comes first on the PATH of the commands AsList runs.
	Bin string
}

// mailConfig is a private Mailman configuration: everything under var_dir,
// no MTA (Debian's Postfix one calls postmap at start and create), and
// only the LMTP runner, so that the messages stay in the queues to be seen.
const mailConfig = `[mailman]
layout: mdpipe
site_owner: owner@example.test

[paths.mdpipe]
var_dir: %s
bin_dir: /usr/lib/mailman3/bin

[mta]
incoming: mailman.mta.null.NullMTA
lmtp_host: 127.0.0.1
lmtp_port: %d
`

var idleRunners = []string{"in", "command", "bounces", "archive", "nntp", "out",
	"pipeline", "rest", "retry", "task", "virgin", "digest"}

// Require skips the test where Mailman cannot run: it needs root, to run
// Mailman (and pipelines) as user list, and Debian's mailman3.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		testkit.SkipMissing(t, "needs root, to run Mailman 3 and the pipeline as user list")
	}
	if _, err := exec.LookPath("mailman"); err != nil {
		testkit.SkipMissing(t, "no mailman command (apt-get install mailman3)")
	}
	if _, err := os.Stat("/usr/lib/mailman3/bin/master"); err != nil {
		testkit.SkipMissing(t, "not Debian's mailman3 layout (/usr/lib/mailman3/bin/master)")
	}
	if _, err := testkit.LookupUser("list"); err != nil {
		testkit.SkipMissing(t, "no user list")
	}
}

// New writes the private configuration into a fresh tree that the test
// removes at its end. It skips as Require does.
func New(t testing.TB) *Site {
	t.Helper()
	Require(t)
	own, err := testkit.LookupUser("list")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir(): its parents are mode 0700, closed to list.
	root, err := os.MkdirTemp("", "mdpipe-mailman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	s := &Site{Root: root, Cfg: filepath.Join(root, "mailman.cfg"),
		Queue: filepath.Join(root, "var", "queue"), Port: testkit.FreePort(t), Own: own}
	cfg := fmt.Sprintf(mailConfig, filepath.Join(root, "var"), s.Port)
	for _, r := range idleRunners {
		cfg += "\n[runner." + r + "]\nstart: no\n"
	}
	testkit.WriteFile(t, s.Cfg, cfg)
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	testkit.ChownTree(t, root, own.UID, own.GID)
	return s
}

// AsList makes a command run as user list, in Root, with a plain
// environment and env added.
func (s *Site) AsList(cmd *exec.Cmd, env ...string) *exec.Cmd {
	path := "/usr/bin:/bin"
	if s.Bin != "" {
		path = s.Bin + ":" + path
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(s.Own.UID), Gid: uint32(s.Own.GID)}}
	cmd.Dir = s.Root
	cmd.Env = append([]string{"PATH=" + path, "HOME=" + s.Root,
		"LANG=C.UTF-8", "CFG=" + s.Cfg}, env...)
	return cmd
}

// Mailman runs a mailman command as list against the private config,
// failing the test if it fails.
func (s *Site) Mailman(t testing.TB, args ...string) {
	t.Helper()
	start := time.Now()
	if out, err := s.Run(args...); err != nil {
		t.Fatalf("mailman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("mailman %s: %v", args[0], time.Since(start).Round(time.Millisecond))
}

// Run runs mailman and returns its output. The output goes to a file, not
// a pipe: `mailman start` leaves its master running with that output.
func (s *Site) Run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := s.AsList(exec.CommandContext(ctx, "mailman", append([]string{"-C", s.Cfg}, args...)...))
	f, err := os.CreateTemp(s.Root, "mailman-out-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd.Stdout, cmd.Stderr = f, f
	err = cmd.Run()
	out, _ := os.ReadFile(f.Name())
	return out, err
}

// Start starts Mailman, stops it when the test ends (also on failure),
// and waits for its LMTP runner to listen.
func (s *Site) Start(t testing.TB) {
	t.Helper()
	t.Cleanup(func() {
		if out, err := s.Run("stop"); err != nil {
			t.Logf("mailman stop: %v\n%s", err, out)
		}
	})
	s.Mailman(t, "start")
	start := time.Now()
	var dialErr error
	if !testkit.Until(60*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", s.LMTP(), time.Second)
		if dialErr = err; err != nil {
			return false
		}
		c.Close()
		return true
	}) {
		t.Fatalf("Mailman's LMTP runner not listening on %s after 60s: %v\n%s", s.LMTP(), dialErr, s.Log())
	}
	t.Logf("LMTP runner listening %v after mailman start", time.Since(start).Round(time.Millisecond))
}

// LMTP is the LMTP runner's address.
func (s *Site) LMTP() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Log returns mailman.log, for failure messages.
func (s *Site) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Root, "var", "logs", "mailman.log"))
	return string(b)
}

// Queued returns the queue directory (in, command, bounces, ...) where
// Mailman holds the message with this Message-ID ("<...>"), "" if none; a
// message queued twice fails the test.
func (s *Site) Queued(t testing.TB, messageID string) string {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.Queue, "*", "*.pck"))
	id := []byte(messageID)
	found := ""
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, id) {
			if found != "" {
				t.Errorf("%s queued twice: %s and %s", messageID, found, f)
			}
			found = filepath.Base(filepath.Dir(f))
		}
	}
	return found
}
