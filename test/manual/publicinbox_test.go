package manual

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// needPublicInbox skips (under CI: fails) without Debian's public-inbox.
func needPublicInbox(t *testing.T) {
	t.Helper()
	for _, c := range []string{"public-inbox-mda", "public-inbox-init", "git"} {
		testkit.NeedCommand(t, c, "public-inbox")
	}
}

// asUser runs script with sh as own, with exactly env: what a supervisor
// gives its service (no HOME, unless env has one). It returns the output
// and the exit status.
func asUser(t *testing.T, own testkit.Owner, env []string, script string) (string, int) {
	t.Helper()
	cmd := exec.Command("setpriv", "--reuid="+strconv.Itoa(own.UID), "--regid="+strconv.Itoa(own.GID),
		"--init-groups", "--", "/bin/sh", "-c", script)
	cmd.Dir, cmd.Env = "/", env
	out, err := cmd.CombinedOutput()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// piSite is an intake and a public-inbox home owned by the test user, as
// the pages make them, under a scratch directory.
type piSite struct {
	own                   testkit.Owner
	bin, base             string
	intake, home, inboxes string
}

func newPISite(t *testing.T, inboxes ...string) *piSite {
	t.Helper()
	testkit.NeedRoot(t, "to run the pipeline and public-inbox as another user")
	needPublicInbox(t)
	own, err := testkit.SystemUser(testkit.TestUser)
	if err != nil {
		t.Fatal(err)
	}
	s := &piSite{own: own, bin: testkit.BuildTools(t), base: scratch(t)}
	s.intake = filepath.Join(s.base, "intake")
	s.home = filepath.Join(s.base, "public-inbox")
	s.inboxes = filepath.Join(s.base, "inboxes")
	for _, d := range []string{s.intake, s.intake + "/tmp", s.intake + "/new", s.intake + "/cur", s.home} {
		testkit.Mkdir(t, d, 0o700)
		testkit.ChownTree(t, d, own.UID, own.GID)
	}
	// public-inbox-init, run as the inboxes' owner with its HOME, writes
	// ~/.public-inbox/config, as mdpipe-lists(7) says.
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + s.home, "LANG=C.UTF-8"}
	for _, ibx := range inboxes {
		if out, st := asUser(t, own, env, "public-inbox-init -V2 -L basic "+ibx+" '"+filepath.Join(s.home, ibx)+
			"' http://example.test/"+ibx+" "+ibx+"@"+domain); st != 0 {
			t.Fatalf("public-inbox-init %s: exit %d\n%s", ibx, st, out)
		}
	}
	// No spamc here: public-inbox-mda's default spam check is SpamAssassin's.
	if out, st := asUser(t, own, env, "git config -f \"$HOME/.public-inbox/config\" publicinboxmda.spamcheck none"); st != 0 {
		t.Fatalf("git config: exit %d\n%s", st, out)
	}
	testkit.WriteFile(t, s.inboxes, strings.Join(inboxes, "\n")+"\n")
	return s
}

// filed returns the subjects of the messages public-inbox filed in inbox.
func (s *piSite) filed(t *testing.T, inbox string) string {
	t.Helper()
	out, err := exec.Command("git", "-c", "safe.directory=*", "--git-dir="+filepath.Join(s.home, inbox, "git", "0.git"),
		"log", "--format=%s").CombinedOutput()
	if err != nil {
		return "(git log: " + err.Error() + ": " + string(out) + ")"
	}
	return string(out)
}

// TestPublicInboxAsThePageSays runs mdpipe-lists(7)'s public-inbox
// example as a supervisor runs a service, as the inboxes' owner with no
// HOME of its own: the page's environment must be enough. Before, the
// page set PI_CONFIG alone; public-inbox-mda then tried to make
// /.public-inbox for its emergency maildir, exited 13, and mdsweep
// retried it for ever, every list behind it.
func TestPublicInboxAsThePageSays(t *testing.T) {
	s := newPISite(t, "mylist")
	example := blockWith(t, "mdpipe-lists.7", "public-inbox-mda", "export")
	script := strings.NewReplacer("/var/lib/public-inbox", s.home, "/var/spool/mdpipe/intake", s.intake,
		"/etc/mdpipe/inboxes", s.inboxes,
		// One pass over the intake, not a service's for ever.
		"mdclaim -f -r 10m", "mdclaim").Replace(example)

	deliver(t, s.intake, s.own, "1795000000.M1P1.mx", "mylist@"+domain, "a post for the archive")
	// An address no inbox has: public-inbox-mda exits 67, which the
	// recipe makes permanent.
	deliver(t, s.intake, s.own, "1795000000.M2P1.mx", "mylist-owner@"+domain, "for the owner")
	out, _ := asUser(t, s.own, []string{"PATH=" + s.bin + ":/usr/bin:/bin", "MDSWEEP_GIVEUP=5s"}, script)

	if got := s.filed(t, "mylist"); !strings.Contains(got, "a post for the archive") {
		t.Errorf("the inbox holds %q, not the post; the pipeline said:\n%s", got, out)
	}
	if left := testkit.Entries(t, filepath.Join(s.intake, "cur")); len(left) != 1 || left[0] != "1795000000.M2P1.mx:1,X" {
		t.Errorf("the intake's cur/ holds %q, want only the owner's mail, parked; the pipeline said:\n%s", left, out)
	}
}
