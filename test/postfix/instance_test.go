package postfix

import (
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// placeholder finds a recipe placeholder the test left unsubstituted.
var placeholder = regexp.MustCompile(`@[A-Z_]+@`)

// testUser owns the intake maildir and the list queue, and runs the
// pipeline, as the site's list user would. It is a system user that the
// test creates when missing and leaves in place for the next run.
const testUser = "mdpipe-test"

// recipeDir holds the Postfix recipes of mdpipe-mta(7), the files an admin
// copies: the test reads them, so that the page and the test cannot drift.
const recipeDir = "../../examples/mta/postfix"

// recipe is one way to set Postfix up: main.cf lines and the files they
// name, all under recipeDir.
type recipe struct {
	mainCf  string   // lines added to main.cf
	maps    []string // files copied into the config directory
	aliases string   // an alias file to build and give to the intake owner
}

var (
	// virtualRecipe: virtual(8) delivers the whole list domain into the
	// intake, a catch-all.
	virtualRecipe = recipe{mainCf: "main.cf", maps: []string{"vmailbox.pcre"}}
	// aliasRecipe: the list domain is local, local(8) aliases every list
	// address to the intake maildir, as Mailman 2.1's genaliases did.
	aliasRecipe = recipe{mainCf: "main-local.cf", aliases: "mdpipe-aliases"}
)

func (rc recipe) needsPCRE() bool {
	for _, m := range rc.maps {
		if strings.HasSuffix(m, ".pcre") {
			return true
		}
	}
	return false
}

// instanceLines make the recipe a private Postfix instance: its own queue,
// data and log under the test's directory, loopback only, and no local
// domain, so that the list domain is the only thing it delivers. They are
// the only lines the test adds to the recipe, and come first: where both
// set a parameter (mydestination), the recipe's, the last, wins.
const instanceLines = `# --- private test instance (test/postfix), not part of the recipe ---
compatibility_level = 3.6
queue_directory = @BASE@/spool
data_directory = @BASE@/data
maillog_file_prefixes = @BASE@
maillog_file = @BASE@/maillog
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.example.test
mydestination =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
# --- the recipe ---
`

// owner is the uid and gid the intake belongs to.
type owner struct {
	uid, gid int
}

// lookupOwner returns testUser, creating it as a system user if missing.
func lookupOwner(t *testing.T) owner {
	t.Helper()
	u, err := user.Lookup(testUser)
	if err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", testUser).CombinedOutput()
		if err != nil {
			t.Fatalf("useradd %s: %v: %s", testUser, err, out)
		}
		if u, err = user.Lookup(testUser); err != nil {
			t.Fatalf("user %s: %v", testUser, err)
		}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %s: uid %q gid %q", testUser, u.Uid, u.Gid)
	}
	return owner{uid, gid}
}

// instance is one private Postfix: config directory, queue and log under
// base, the intake maildir at base/mail/intake.
type instance struct {
	base   string
	config string // main.cf, master.cf, vmailbox.pcre
	intake string
	own    owner
}

// newInstance writes the instance's configuration from the recipe rc.
// postfix start checks it and creates the queue directories.
func newInstance(t *testing.T, base string, own owner, rc recipe) *instance {
	t.Helper()
	p := &instance{
		base:   base,
		config: filepath.Join(base, "etc"),
		intake: filepath.Join(base, "mail", "intake"),
		own:    own,
	}
	for _, d := range []string{p.config, filepath.Join(base, "spool"), filepath.Join(base, "data")} {
		mkdir(t, d, 0o755)
	}
	// postfix start wants data_directory owned by mail_owner.
	chownTo(t, filepath.Join(base, "data"), "postfix")
	// The intake maildir exists before the first delivery, owned by the
	// list user: virtual(8) delivers as that user and makes files 0600.
	mail := filepath.Join(base, "mail")
	mkdir(t, mail, 0o755)
	for _, d := range []string{p.intake, p.intake + "/tmp", p.intake + "/new", p.intake + "/cur"} {
		mkdir(t, d, 0o700)
	}
	for _, d := range []string{mail, p.intake, p.intake + "/tmp", p.intake + "/new", p.intake + "/cur"} {
		if err := os.Chown(d, own.uid, own.gid); err != nil {
			t.Fatal(err)
		}
	}

	subst := strings.NewReplacer(
		"@CONFIG_DIR@", p.config,
		"@INTAKE_BASE@", mail,
		"@UID@", strconv.Itoa(own.uid),
		"@GID@", strconv.Itoa(own.gid),
		"@BASE@", base,
	)
	for _, name := range append([]string{rc.mainCf}, rc.maps...) {
		text := subst.Replace(readFile(t, filepath.Join(recipeDir, name)))
		if ph := placeholder.FindString(text); ph != "" {
			t.Fatalf("%s/%s: placeholder %s has no value in the test", recipeDir, name, ph)
		}
		if name == rc.mainCf {
			name, text = "main.cf", subst.Replace(instanceLines)+text
		}
		writeFile(t, filepath.Join(p.config, name), text)
	}
	// Debian's master.cf, without chroot: a chrooted smtpd would need
	// configure-instance.sh to copy /etc files into the queue directory.
	writeFile(t, filepath.Join(p.config, "master.cf"), readFile(t, "/etc/postfix/master.cf"))
	p.run(t, "postconf", "-c", p.config, "-F", "*/*/chroot = n")
	if rc.aliases != "" {
		p.buildAliases(t, rc.aliases, subst)
	}
	if out, err := exec.Command("postconf", "-c", p.config, "-m").Output(); rc.needsPCRE() && (err != nil || !strings.Contains(string(out), "pcre")) {
		t.Skipf("skipping: Postfix has no pcre maps (apt-get install postfix-pcre): postconf -m: %v: %s", err, strings.Fields(string(out)))
	}
	return p
}

// buildAliases writes the alias file, builds its database, and gives both
// to the intake owner: local(8) delivers to a file named in an alias with
// the rights of the database's owner (root's: default_privs, nobody).
func (p *instance) buildAliases(t *testing.T, name string, subst *strings.Replacer) {
	t.Helper()
	src := filepath.Join(p.config, name)
	text := subst.Replace(readFile(t, filepath.Join(recipeDir, name)))
	if ph := placeholder.FindString(text); ph != "" {
		t.Fatalf("%s/%s: placeholder %s has no value in the test", recipeDir, name, ph)
	}
	writeFile(t, src, text)
	p.run(t, "postalias", "-c", p.config, "hash:"+src)
	for _, f := range []string{src, src + ".db"} {
		if err := os.Chown(f, p.own.uid, p.own.gid); err != nil {
			t.Fatal(err)
		}
	}
}

// start starts Postfix, stops it when the test ends (also on failure),
// and waits until 127.0.0.1:25 accepts.
func (p *instance) start(t *testing.T) {
	t.Helper()
	if c, err := net.DialTimeout("tcp", "127.0.0.1:25", time.Second); err == nil {
		c.Close()
		t.Fatal("127.0.0.1:25 accepts before our Postfix starts: another MTA (or a Postfix left by a killed run) holds it; stop it and run again")
	}
	p.run(t, "postfix", "-c", p.config, "start")
	t.Cleanup(func() { p.stop(t) })
	poll(t, 20*time.Second, "Postfix to accept on 127.0.0.1:25", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:25", time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// stop stops Postfix and waits until its master process is gone, so that
// the next run finds port 25 free and the directory can be removed.
func (p *instance) stop(t *testing.T) {
	pid := 0
	if b, err := os.ReadFile(filepath.Join(p.base, "spool", "pid", "master.pid")); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if out, err := exec.Command("postfix", "-c", p.config, "stop").CombinedOutput(); err != nil {
		t.Errorf("postfix stop: %v: %s", err, out)
	}
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Errorf("Postfix master (pid %d) still runs 20s after postfix stop", pid)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// queueEmpty reports whether postqueue -p says the queue is empty.
func (p *instance) queueEmpty(t *testing.T) bool {
	out, err := exec.Command("postqueue", "-c", p.config, "-p").CombinedOutput()
	if err != nil {
		t.Fatalf("postqueue -p: %v: %s", err, out)
	}
	return strings.Contains(string(out), "Mail queue is empty")
}

// log returns Postfix's log, for failure messages.
func (p *instance) log() string {
	b, err := os.ReadFile(filepath.Join(p.base, "maillog"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// run runs a Postfix command. Postfix commands report errors to syslog,
// or to maillog_file once main.cf names one, not on a stderr that is not
// a terminal: on failure, show that log too.
func (p *instance) run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s\nmaillog:\n%s", name, strings.Join(args, " "), err, out, p.log())
	}
}

// poll calls cond until it holds, failing the test after timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, mode); err != nil {
		t.Fatal(err)
	}
	// MkdirAll's mode is filtered by the umask; these modes are the point.
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

func chownTo(t *testing.T, path, name string) {
	t.Helper()
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	if err := os.Chown(path, uid, -1); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// requirePostfix skips the test where it cannot run: it starts a system
// MTA on port 25 and creates a user, which only root can.
func requirePostfix(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: the Postfix test must run as root (it starts Postfix on port 25 and adds a system user); CI runs it as root")
	}
	for _, cmd := range []string{"postfix", "postconf", "postqueue", "postalias", "setpriv", "useradd"} {
		if _, err := exec.LookPath(cmd); err != nil {
			t.Skipf("skipping: %s not installed (apt-get install postfix postfix-pcre util-linux passwd): %v", cmd, err)
		}
	}
	if _, err := os.Stat("/etc/postfix/master.cf"); err != nil {
		t.Skipf("skipping: no Debian Postfix master.cf: %v", err)
	}
}
