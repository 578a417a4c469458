// Package postfixsite runs a private Postfix instance for the root-only
// integration tests: built from the recipes of mdpipe-mta(7)
// (examples/mta/postfix), listening on its own port on 127.0.0.1 (never
// 25, which a system MTA may hold) and delivering the list domain into an
// intake maildir owned by the test user.
//
// Start takes a machine-wide lock so that the test packages running in
// parallel take turns: each instance is a whole MTA on two shared CPUs.
package postfixsite

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// smtpService is the smtpd line of Debian's master.cf, whose service name
// the instance replaces with its own address.
var smtpService = regexp.MustCompile(`(?m)^smtp(\s+inet\s)`)

// placeholder finds a recipe placeholder the test left unsubstituted.
var placeholder = regexp.MustCompile(`@[A-Z_]+@`)

// RecipeDir returns the directory of the Postfix recipes of mdpipe-mta(7),
// the files an admin copies: the tests read them, so that the page and the
// tests cannot drift.
func RecipeDir(t testing.TB) string {
	return filepath.Join(testkit.ModuleRoot(t), "examples", "mta", "postfix")
}

// Recipe is one way to set Postfix up: a script of postconf -e lines that
// add to main.cf, and the files they name, all in RecipeDir.
type Recipe struct {
	Postconf string   // postconf -e lines, run with MAIL_CONFIG set
	Maps     []string // files copied into the config directory
	Aliases  string   // an alias file to build and give to the intake owner
}

var (
	// VirtualRecipe: virtual(8) delivers the whole list domain into the
	// intake, a catch-all.
	VirtualRecipe = Recipe{Postconf: "postconf-virtual.sh", Maps: []string{"vmailbox.pcre"}}
	// AliasRecipe: the list domain is local, local(8) aliases every list
	// address to the intake maildir, as Mailman 2.1's genaliases did.
	AliasRecipe = Recipe{Postconf: "postconf-local.sh", Aliases: "mdpipe-aliases"}
)

// SiteAliases is the alias map the site had before the recipe, in the
// config directory: the stand-in for Debian's /etc/aliases.
const SiteAliases = "aliases"

// siteParams are what Debian's postinst sets with postconf -e on an
// "Internet Site" install, the main.cf a reader applies the recipe to;
// /etc/aliases is the instance's own copy (SiteAliases).
var siteParams = []string{
	"alias_maps = hash:@CONFIG_DIR@/" + SiteAliases,
	"alias_database = hash:@CONFIG_DIR@/" + SiteAliases,
	"mydestination = $myhostname, localhost.localdomain, localhost",
	"recipient_delimiter = +",
}

func (rc Recipe) needsPCRE() bool {
	for _, m := range rc.Maps {
		if strings.HasSuffix(m, ".pcre") {
			return true
		}
	}
	return false
}

// instanceLines make the recipe a private Postfix instance: its own queue,
// data and log under the test's directory, loopback only. They are the
// main.cf that siteParams, then the recipe's postconf -e lines, edit.
const instanceLines = `# --- private test instance (internal/testkit/postfixsite), not part of the recipe ---
compatibility_level = 3.6
queue_directory = @BASE@/spool
data_directory = @BASE@/data
maillog_file_prefixes = @BASE@
maillog_file = @BASE@/maillog
inet_interfaces = loopback-only
inet_protocols = ipv4
myhostname = mx.example.test
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
# --- the site (siteParams) and the recipe, by postconf -e ---
`

// Instance is one private Postfix: config directory, queue and log under
// Base, the intake maildir at Base/mail/intake.
type Instance struct {
	Base   string
	Config string // main.cf, master.cf, vmailbox.pcre
	Intake string
	Own    testkit.Owner
	Addr   string // 127.0.0.1:port, where its smtpd listens
}

// Require skips the test where it cannot run (under CI: fails): it starts
// Postfix, which wants root, and creates a user, which only root can.
func Require(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		testkit.SkipMissing(t, "the Postfix test must run as root (it starts Postfix and adds a system user); CI runs it as root")
	}
	for _, cmd := range []string{"postfix", "postconf", "postqueue", "postalias", "setpriv", "useradd"} {
		if _, err := exec.LookPath(cmd); err != nil {
			testkit.SkipMissing(t, "%s not installed (apt-get install postfix postfix-pcre util-linux passwd): %v", cmd, err)
		}
	}
	if _, err := os.Stat("/etc/postfix/master.cf"); err != nil {
		testkit.SkipMissing(t, "no Debian Postfix master.cf: %v", err)
	}
}

// Owner returns the intake's user, a user of the test's own
// (testkit.NewUser), removed when the test ends.
func Owner(t testing.TB) testkit.Owner {
	t.Helper()
	_, own := testkit.NewUser(t)
	return own
}

// New writes the instance's configuration from the recipe rc under base,
// a 0755 directory Postfix's user can reach. postfix start checks it and
// creates the queue directories.
func New(t testing.TB, base string, own testkit.Owner, rc Recipe) *Instance {
	t.Helper()
	p := &Instance{
		Base:   base,
		Config: filepath.Join(base, "etc"),
		Intake: filepath.Join(base, "mail", "intake"),
		Own:    own,
	}
	for _, d := range []string{p.Config, filepath.Join(base, "spool"), filepath.Join(base, "data")} {
		testkit.Mkdir(t, d, 0o755)
	}
	// postfix start wants data_directory owned by mail_owner.
	postfix, err := testkit.LookupUser("postfix")
	if err != nil {
		t.Fatalf("user postfix: %v", err)
	}
	if err := os.Chown(filepath.Join(base, "data"), postfix.UID, -1); err != nil {
		t.Fatal(err)
	}
	// The intake maildir exists before the first delivery, owned by the
	// list user: virtual(8) delivers as that user and makes files 0600.
	mail := filepath.Join(base, "mail")
	testkit.Mkdir(t, mail, 0o755)
	for _, d := range []string{p.Intake, p.Intake + "/tmp", p.Intake + "/new", p.Intake + "/cur"} {
		testkit.Mkdir(t, d, 0o700)
	}
	for _, d := range []string{mail, p.Intake, p.Intake + "/tmp", p.Intake + "/new", p.Intake + "/cur"} {
		if err := os.Chown(d, own.UID, own.GID); err != nil {
			t.Fatal(err)
		}
	}

	subst := strings.NewReplacer(
		"@CONFIG_DIR@", p.Config,
		"@INTAKE_BASE@", mail,
		"@UID@", strconv.Itoa(own.UID),
		"@GID@", strconv.Itoa(own.GID),
		"@BASE@", base,
	)
	recipes := RecipeDir(t)
	testkit.WriteFile(t, filepath.Join(p.Config, "main.cf"), subst.Replace(instanceLines))
	for _, name := range rc.Maps {
		text := subst.Replace(testkit.ReadFile(t, filepath.Join(recipes, name)))
		if ph := placeholder.FindString(text); ph != "" {
			t.Fatalf("%s/%s: placeholder %s has no value in the test", recipes, name, ph)
		}
		testkit.WriteFile(t, filepath.Join(p.Config, name), text)
	}
	// Debian's master.cf, without chroot: a chrooted smtpd would need
	// configure-instance.sh to copy /etc files into the queue directory.
	// Its smtpd listens on a port of its own, free when New runs.
	p.Addr = "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	master := testkit.ReadFile(t, "/etc/postfix/master.cf")
	if !smtpService.MatchString(master) {
		t.Fatal("/etc/postfix/master.cf has no 'smtp inet' line to give the instance its own port")
	}
	testkit.WriteFile(t, filepath.Join(p.Config, "master.cf"), smtpService.ReplaceAllString(master, p.Addr+"$1"))
	p.run(t, "postconf", "-c", p.Config, "-F", "*/*/chroot = n")
	// The site as Debian's postinst leaves it, with its own aliases.
	testkit.WriteFile(t, filepath.Join(p.Config, SiteAliases), "postmaster: root\n")
	p.run(t, "postalias", "-c", p.Config, "hash:"+filepath.Join(p.Config, SiteAliases))
	var site []string
	for _, l := range siteParams {
		site = append(site, subst.Replace(l))
	}
	p.run(t, "postconf", append([]string{"-c", p.Config, "-e"}, site...)...)
	p.runPostconf(t, recipes, rc.Postconf, subst)
	if rc.Aliases != "" {
		p.buildAliases(t, recipes, rc.Aliases, subst)
	}
	if out, err := exec.Command("postconf", "-c", p.Config, "-m").Output(); rc.needsPCRE() && (err != nil || !strings.Contains(string(out), "pcre")) {
		testkit.SkipMissing(t, "Postfix has no pcre maps (apt-get install postfix-pcre): postconf -m: %v: %s", err, strings.Fields(string(out)))
	}
	return p
}

// runPostconf runs the recipe's postconf -e lines as a reader runs them,
// with sh, on this instance's main.cf (MAIL_CONFIG).
func (p *Instance) runPostconf(t testing.TB, recipes, name string, subst *strings.Replacer) {
	t.Helper()
	text := subst.Replace(testkit.ReadFile(t, filepath.Join(recipes, name)))
	if ph := placeholder.FindString(text); ph != "" {
		t.Fatalf("%s/%s: placeholder %s has no value in the test", recipes, name, ph)
	}
	cmd := exec.Command("sh", "-e", "-c", text)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+p.Config)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("%s/%s: %v: %s\nmaillog:\n%s", recipes, name, err, out, p.Log())
	}
}

// Param returns the value of a main.cf parameter as postconf -h shows it.
func (p *Instance) Param(t testing.TB, name string) string {
	t.Helper()
	out, err := exec.Command("postconf", "-c", p.Config, "-h", name).CombinedOutput()
	if err != nil {
		t.Fatalf("postconf -h %s: %v: %s", name, err, out)
	}
	return strings.TrimSpace(string(out))
}

// buildAliases writes the alias file, builds its database, and gives both
// to the intake owner: local(8) delivers to a file named in an alias with
// the rights of the database's owner (root's: default_privs, nobody).
func (p *Instance) buildAliases(t testing.TB, recipes, name string, subst *strings.Replacer) {
	t.Helper()
	src := filepath.Join(p.Config, name)
	text := subst.Replace(testkit.ReadFile(t, filepath.Join(recipes, name)))
	if ph := placeholder.FindString(text); ph != "" {
		t.Fatalf("%s/%s: placeholder %s has no value in the test", recipes, name, ph)
	}
	testkit.WriteFile(t, src, text)
	p.run(t, "postalias", "-c", p.Config, "hash:"+src)
	for _, f := range []string{src, src + ".db"} {
		if err := os.Chown(f, p.Own.UID, p.Own.GID); err != nil {
			t.Fatal(err)
		}
	}
}

// Start takes the lock, starts Postfix, stops it when the test ends (also
// on failure) and only then releases the lock, and waits until p.Addr
// accepts.
func (p *Instance) Start(t *testing.T) {
	t.Helper()
	lockInstance(t)
	if c, err := net.DialTimeout("tcp", p.Addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s accepts before our Postfix starts: another program took the port", p.Addr)
	}
	p.run(t, "postfix", "-c", p.Config, "start")
	t.Cleanup(func() { p.Stop(t) })
	testkit.Poll(t, 20*time.Second, "Postfix to accept on "+p.Addr, func() bool {
		c, err := net.DialTimeout("tcp", p.Addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

// Stop stops Postfix and waits until its master process is gone, so that
// the next run finds the machine quiet and the directory can be removed.
func (p *Instance) Stop(t testing.TB) {
	pid := 0
	if b, err := os.ReadFile(filepath.Join(p.Base, "spool", "pid", "master.pid")); err == nil {
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if out, err := exec.Command("postfix", "-c", p.Config, "stop").CombinedOutput(); err != nil {
		t.Errorf("postfix stop: %v: %s", err, out)
	}
	if pid <= 0 {
		return
	}
	if !testkit.Until(20*time.Second, func() bool { return syscall.Kill(pid, 0) != nil }) {
		t.Errorf("Postfix master (pid %d) still runs 20s after postfix stop", pid)
	}
}

// QueueEmpty reports whether postqueue -p says the queue is empty.
func (p *Instance) QueueEmpty(t testing.TB) bool {
	out, err := exec.Command("postqueue", "-c", p.Config, "-p").CombinedOutput()
	if err != nil {
		t.Fatalf("postqueue -p: %v: %s", err, out)
	}
	return strings.Contains(string(out), "Mail queue is empty")
}

// Log returns Postfix's log, for failure messages.
func (p *Instance) Log() string {
	b, err := os.ReadFile(filepath.Join(p.Base, "maillog"))
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// run runs a Postfix command. Postfix commands report errors to syslog,
// or to maillog_file once main.cf names one, not on a stderr that is not
// a terminal: on failure, show that log too.
func (p *Instance) run(t testing.TB, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s\nmaillog:\n%s", name, strings.Join(args, " "), err, out, p.Log())
	}
}
