package manual

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// pageLine returns the first line of a literal block of the page that
// starts with prefix and contains every one of subs, or "".
func pageLine(t *testing.T, name, prefix string, subs ...string) string {
	t.Helper()
	for _, b := range literalBlocks(page(t, name)) {
		for _, l := range strings.Split(b, "\n") {
			l = strings.TrimSpace(l)
			ok := strings.HasPrefix(l, prefix)
			for _, s := range subs {
				ok = ok && strings.Contains(l, s)
			}
			if ok {
				return l
			}
		}
	}
	return ""
}

// deliver writes a message into the intake's new/ as an MTA running as
// own would: mode 0600, the envelope sender and recipient on top, as
// Postfix writes them.
func deliver(t *testing.T, intake string, own testkit.Owner, name, rcpt, subject string) {
	t.Helper()
	p := filepath.Join(intake, "new", name)
	testkit.WriteFile(t, p, "Return-Path: <alice@example.org>\nX-Original-To: "+rcpt+"\nDelivered-To: "+rcpt+"\nFrom: alice@example.org\nTo: "+rcpt+
		"\nMessage-ID: <"+name+"@example.org>\nDate: Sun, 06 Dec 2026 09:00:00 +0000\nSubject: "+subject+"\n\nHello.\n")
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, own.UID, own.GID); err != nil {
		t.Fatal(err)
	}
}

// TestListMadeAsThePageSays follows mdpipe(7) as root: the intake as
// mdpipe-mta(7), "Users", makes it; a list as mdpipe(7) makes it; a
// message for the list; then the page's one-shot run as the service's
// user, whose shell is nologin. The message must reach the list. Before,
// the page made the list with mkdir, as root, and mdsweep, as the
// service's user, retried "permission denied" for ever.
func TestListMadeAsThePageSays(t *testing.T) {
	testkit.NeedRoot(t, "to make directories for another user and run the pipeline as that user")
	testkit.NeedCommand(t, "runuser", "util-linux")
	own, err := testkit.SystemUser(testkit.TestUser)
	if err != nil {
		t.Fatal(err)
	}
	bin := testkit.BuildTools(t)
	base := scratch(t)
	user := testkit.TestUser
	subst := strings.NewReplacer("/var/spool/mdpipe", base, "-o mdpipe -g mdpipe", "-o "+user+" -g "+user,
		"-u mdpipe ", "-u "+user+" ")
	env := []string{"PATH=" + bin + ":/usr/sbin:/usr/bin:/sbin:/bin",
		// A permission the page got wrong ends the run instead of
		// being retried for ever.
		"MDSWEEP_GIVEUP=5s"}

	intake := pageLine(t, "mdpipe-mta.7", "install -d -o mdpipe", "/var/spool/mdpipe/intake")
	list := pageLine(t, "mdpipe.7", "", "/var/spool/mdpipe/queue/mylist")
	if intake == "" || list == "" {
		t.Fatalf("the pages show no line that makes the intake (%q) or a list (%q)", intake, list)
	}
	sh(t, "/", env, subst.Replace(intake))
	sh(t, "/", env, subst.Replace(list))
	deliver(t, filepath.Join(base, "intake"), own, "1795000000.M1P1.mx", "mylist@"+domain, "first")

	oneShot := pageLine(t, "mdpipe.7", "runuser -u mdpipe", "mdsweep -q /var/spool/mdpipe/queue")
	var out string
	if oneShot == "" {
		t.Errorf("mdpipe(7) shows no one-shot run as the service's user (runuser -u mdpipe -- ... mdsweep -q /var/spool/mdpipe/queue)")
		stages, last := testkit.RunPipelineEnv(t, bin, own, []string{"MDSWEEP_GIVEUP=5s"}, [][]string{
			{"mdclaim", filepath.Join(base, "intake")}, {"mdroute"},
			{"mdsweep", "-q", filepath.Join(base, "queue")}, {"mdfail"}})
		for _, s := range stages {
			out += s.Name + ": " + s.Stderr.String()
		}
		out += last
	} else {
		cmd := exec.Command("/bin/sh", "-c", subst.Replace(oneShot))
		cmd.Dir, cmd.Env = "/", env
		b, _ := cmd.CombinedOutput()
		out = string(b)
	}
	got := testkit.Glob(t, filepath.Join(base, "queue", "mylist", "post", "new", "*"))
	if len(got) != 1 {
		t.Errorf("the list's post/new/ holds %q, want the message; the run said:\n%s", got, out)
	}
	if left := testkit.Entries(t, filepath.Join(base, "intake", "cur")); len(left) != 0 {
		t.Errorf("the intake's cur/ still holds %q", left)
	}
}
