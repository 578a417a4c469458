// Package mailman proves the hand-offs against a real GNU Mailman 3
// (Debian's mailman3 package): the real mdclaim | mdroute | mdsweep | mdfail
// binaries, run as user list, hand an intake over LMTP and through
// `mailman inject` to a private Mailman instance, and the test looks where
// Mailman queued each message.
//
// It needs root (to run Mailman and the pipeline as user list) and the
// mailman command; it skips without them.
package mailman

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const domain = "lists.example.test"

// site is a private Mailman instance and an intake, all owned by list.
type site struct {
	t        *testing.T
	root     string // the temporary tree
	cfg      string // mailman.cfg
	bin      string // the mdpipe binaries
	intake   string
	queue    string // Mailman's queue directory
	port     int    // its LMTP runner's
	uid, gid uint32
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

func newSite(t *testing.T) *site {
	if os.Geteuid() != 0 {
		t.Skip("skipped: needs root, to run Mailman 3 and the pipeline as user list")
	}
	if _, err := exec.LookPath("mailman"); err != nil {
		t.Skip("skipped: no mailman command (apt-get install mailman3)")
	}
	if _, err := os.Stat("/usr/lib/mailman3/bin/master"); err != nil {
		t.Skip("skipped: not Debian's mailman3 layout (/usr/lib/mailman3/bin/master)")
	}
	u, err := user.Lookup("list")
	if err != nil {
		t.Skip("skipped: no user list")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// Not t.TempDir(): its parents are mode 0700, closed to list.
	root, err := os.MkdirTemp("", "mdpipe-mailman-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	s := &site{t: t, root: root, cfg: filepath.Join(root, "mailman.cfg"),
		bin: filepath.Join(root, "bin"), intake: filepath.Join(root, "intake"),
		queue: filepath.Join(root, "var", "queue"), port: freePort(t),
		uid: uint32(uid), gid: uint32(gid)}
	s.build()
	cfg := fmt.Sprintf(mailConfig, filepath.Join(root, "var"), s.port)
	for _, r := range idleRunners {
		cfg += "\n[runner." + r + "]\nstart: no\n"
	}
	write(t, s.cfg, cfg)
	for _, d := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(s.intake, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s.chown()
	return s
}

// build compiles the four tools, as `make` does.
func (s *site) build() {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(os.Getenv("GOROOT"), "bin", "go")
	}
	cmd := exec.Command(goCmd, "build", "-o", s.bin+"/",
		"mdpipe/cmd/mdclaim", "mdpipe/cmd/mdroute", "mdpipe/cmd/mdsweep", "mdpipe/cmd/mdfail")
	if out, err := cmd.CombinedOutput(); err != nil {
		s.t.Fatalf("go build: %v\n%s", err, out)
	}
}

func (s *site) chown() {
	err := filepath.Walk(s.root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, int(s.uid), int(s.gid))
	})
	if err != nil {
		s.t.Fatal(err)
	}
}

// asList makes a command run as user list, with a plain environment.
func (s *site) asList(cmd *exec.Cmd, env ...string) *exec.Cmd {
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: s.uid, Gid: s.gid}}
	cmd.Dir = s.root
	cmd.Env = append([]string{"PATH=" + s.bin + ":/usr/bin:/bin", "HOME=" + s.root,
		"LANG=C.UTF-8", "CFG=" + s.cfg}, env...)
	return cmd
}

// mailman runs a mailman command as list against the private config.
func (s *site) mailman(args ...string) {
	s.t.Helper()
	start := time.Now()
	if out, err := s.run(args...); err != nil {
		s.t.Fatalf("mailman %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	s.t.Logf("mailman %s: %v", args[0], time.Since(start).Round(time.Millisecond))
}

// run runs mailman and returns its output. The output goes to a file, not
// a pipe: `mailman start` leaves its master running with that output.
func (s *site) run(args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := s.asList(exec.CommandContext(ctx, "mailman", append([]string{"-C", s.cfg}, args...)...))
	f, err := os.CreateTemp(s.root, "mailman-out-")
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

// start starts Mailman, stops it when the test ends (also on failure),
// and waits for its LMTP runner to listen.
func (s *site) start() {
	t := s.t
	t.Cleanup(func() {
		if out, err := s.run("stop"); err != nil {
			t.Logf("mailman stop: %v\n%s", err, out)
		}
	})
	s.mailman("start")
	start := time.Now()
	for deadline := start.Add(60 * time.Second); ; {
		c, err := net.DialTimeout("tcp", s.lmtp(), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(s.root, "var", "logs", "mailman.log"))
			s.t.Fatalf("Mailman's LMTP runner not listening on %s after 60s: %v\n%s", s.lmtp(), err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Logf("LMTP runner listening %v after mailman start", time.Since(start).Round(time.Millisecond))
}

func (s *site) lmtp() string { return "127.0.0.1:" + strconv.Itoa(s.port) }

// deliver puts a message for rcpt into the intake's new/, as an MTA does;
// its Message-ID names it.
func (s *site) deliver(name, rcpt string) {
	msg := fmt.Sprintf("Return-Path: <alice@example.org>\n"+
		"Delivered-To: %s\n"+
		"From: Alice <alice@example.org>\nTo: %s\nSubject: %s\n"+
		"Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <%s@mdpipe.test>\n"+
		"MIME-Version: 1.0\nContent-Type: text/plain\n\nhello from %s\n", rcpt, rcpt, name, name, name)
	p := filepath.Join(s.intake, "new", "1795000000.M"+name+"P1.mdpipe")
	write(s.t, p, msg)
	if err := os.Chown(p, int(s.uid), int(s.gid)); err != nil {
		s.t.Fatal(err)
	}
}

// pipeline runs the four tools over the intake as list, with sweep as
// mdsweep's hand-off flags, and returns mdfail's output and everyone's log.
func (s *site) pipeline(sweep string) (parked, log string) {
	s.t.Helper()
	sh := `mdclaim "$INTAKE" | mdroute | mdsweep -v -t 30s ` + sweep + ` | mdfail -v`
	cmd := s.asList(exec.Command("/bin/sh", "-c", sh), "INTAKE="+s.intake)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	start := time.Now()
	if err := cmd.Run(); err != nil {
		s.t.Errorf("pipeline: %v", err)
	}
	s.t.Logf("pipeline %s: %v\n%s", sweep, time.Since(start).Round(time.Millisecond), errs.String())
	return out.String(), errs.String()
}

// queued returns the queue directory (in, command, bounces, ...) where
// Mailman holds the message with this name, "" if none.
func (s *site) queued(name string) string {
	files, _ := filepath.Glob(filepath.Join(s.queue, "*", "*.pck"))
	id := []byte("<" + name + "@mdpipe.test>")
	found := ""
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil && bytes.Contains(b, id) {
			if found != "" {
				s.t.Errorf("%s queued twice: %s and %s", name, found, f)
			}
			found = filepath.Base(filepath.Dir(f))
		}
	}
	return found
}

// intakeLeft lists what is left in the intake's new/ and cur/.
func (s *site) intakeLeft() []string {
	var left []string
	for _, d := range []string{"new", "cur"} {
		es, _ := os.ReadDir(filepath.Join(s.intake, d))
		for _, e := range es {
			left = append(left, d+"/"+e.Name())
		}
	}
	return left
}

func TestMailman(t *testing.T) {
	begin := time.Now()
	// Registered first, so it runs last: after mailman stop.
	t.Cleanup(func() { t.Logf("wall time %v", time.Since(begin).Round(time.Millisecond)) })
	s := newSite(t)
	s.mailman("create", "mylist@"+domain)
	s.start()

	t.Run("lmtp", func(t *testing.T) {
		s.t = t
		cases := []struct{ name, rcpt, queue string }{
			{"post", "mylist@", "in"},
			{"request", "mylist-request@", "command"},
			{"bounces", "mylist-bounces+bob=example.net@", "bounces"},
			{"confirm", "mylist-confirm+c0ffee@", "command"},
			{"join", "mylist-join@", "command"},
			{"leave", "mylist-leave@", "command"},
			{"owner", "mylist-owner@", "in"},
			{"unknown", "nolist@", ""},
		}
		for _, c := range cases {
			s.deliver(c.name, c.rcpt+domain)
		}
		parked, log := s.pipeline("-l " + s.lmtp())
		for _, c := range cases {
			if got := s.queued(c.name); got != c.queue {
				t.Errorf("%s (%s%s): queued in %q, want %q", c.name, c.rcpt, domain, got, c.queue)
			}
		}
		unknown := filepath.Join(s.intake, "cur", "1795000000.MunknownP1.mdpipe")
		if want := unknown + ":1,X\n"; parked != want {
			t.Errorf("mdfail printed %q, want %q", parked, want)
		}
		if !strings.Contains(log, "mdsweep: cannot hand off '"+unknown+":1,P': RCPT TO:<nolist@"+domain+">: 550 ") {
			t.Errorf("no 550 from Mailman for the unknown list in the log")
		}
		if left := s.intakeLeft(); len(left) != 1 || left[0] != "cur/1795000000.MunknownP1.mdpipe:1,X" {
			t.Errorf("left in the intake: %q, want only the unknown one, parked", left)
		}
		os.Remove(unknown + ":1,X")
	})

	t.Run("inject", func(t *testing.T) {
		s.t = t
		s.deliver("injected", "mylist@"+domain)
		s.deliver("injectunknown", "nolist@"+domain)
		// mailman inject exits 2 (a usage error) for an unknown list: a
		// site's recipe turns that into 100, and anything else into 111.
		parked, log := s.pipeline(`-c 'mailman -C "$CFG" inject -q in "$LIST@$HOST" || { [ $? = 2 ] && exit 100; exit 111; }'`)
		if got := s.queued("injected"); got != "in" {
			t.Errorf("injected: queued in %q, want in", got)
		}
		unknown := filepath.Join(s.intake, "cur", "1795000000.MinjectunknownP1.mdpipe")
		if parked != unknown+":1,X\n" {
			t.Errorf("mdfail printed %q, want the unknown one", parked)
		}
		if !strings.Contains(log, "mdsweep: command '"+unknown+":1,P': Error: No such list: nolist@"+domain) {
			t.Errorf("the command's stderr is not in the log, prefixed")
		}
		if left := s.intakeLeft(); len(left) != 1 || left[0] != "cur/1795000000.MinjectunknownP1.mdpipe:1,X" {
			t.Errorf("left in the intake: %q, want only the unknown one, parked", left)
		}
	})
	s.t = t
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func write(t *testing.T, path, content string) {
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
