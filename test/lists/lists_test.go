// Package lists proves mdpipe's hand-off to list managers other than
// Mailman 3, live, with Debian's packages: SMTP into a private Postfix,
// whose virtual(8) catch-all delivers the list domain into the intake;
// mdclaim | mdroute | mdsweep -c | mdfail, run as the intake's owner,
// hands each message to the list manager's own delivery program, with
// the recipe of mdpipe-lists(7); the test looks in the list manager's own
// directories, and at the mail it sent on, for the effect of each message.
//
//   - mlmmj (mlmmj_test.go): mlmmj-receive, for a post, a subscription and
//     an unsubscription with mlmmj's confirmations, a VERP bounce and mail
//     for the owner; mlmmj sends on to an SMTP sink of the test's.
//   - public-inbox (publicinbox_test.go): public-inbox-mda, which chooses
//     the inbox by ORIGINAL_RECIPIENT; public-inbox-httpd then serves the
//     message by its Message-ID.
//
// The tests need root (Postfix, and the pipeline run as another user) and
// the Debian packages named in each skip; CI runs them as root.
package lists

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/postfixsite"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// domain is the list domain of Postfix's recipe.
const domain = "lists.example.test"

// site is a private Postfix delivering the list domain into an intake,
// and the built tools to drain it, all under one 0755 directory.
type site struct {
	t    *testing.T
	base string // 0755, removed at the end
	own  testkit.Owner
	bin  string
	pf   *postfixsite.Instance
}

// newSite builds the tools and starts Postfix. It skips as
// postfixsite.Require does.
func newSite(t *testing.T, prefix string) *site {
	postfixsite.Require(t)
	s := &site{t: t, own: postfixsite.Owner(t), bin: testkit.BuildTools(t)}
	s.base = testkit.OpenTempDir(t, prefix) // removed after Postfix stops
	s.pf = postfixsite.New(t, s.base, s.own, postfixsite.VirtualRecipe)
	s.pf.Start(t)
	return s
}

// mkdir makes a 0755 directory under base, owned by the intake's owner.
func (s *site) mkdir(name string) string {
	d := filepath.Join(s.base, name)
	testkit.Mkdir(s.t, d, 0o755)
	if err := os.Chown(d, s.own.UID, s.own.GID); err != nil {
		s.t.Fatal(err)
	}
	return d
}

// send sends ms through Postfix and waits until each is in the intake.
func (s *site) send(ms ...postfixsite.Message) {
	s.t.Helper()
	newDir := filepath.Join(s.pf.Intake, "new")
	before := len(testkit.Entries(s.t, newDir))
	s.pf.Send(s.t, ms)
	testkit.Poll(s.t, time.Minute, "Postfix to deliver into the intake", func() bool {
		return s.pf.QueueEmpty(s.t) && len(testkit.Entries(s.t, newDir)) >= before+len(ms)
	})
	if n := len(testkit.Entries(s.t, newDir)); n != before+len(ms) {
		s.t.Fatalf("intake new/ holds %d files, want %d\nmaillog:\n%s", n, before+len(ms), s.pf.Log())
	}
}

// drain runs mdclaim | mdroute ROUTE | mdsweep -c COMMAND | mdfail once
// over the intake, as its owner, with env added (a service's env/), and
// returns the X-Test-Id of what mdfail parked, and mdsweep's stderr. Each
// stage must exit as status says (100: something was parked on its
// word), or 0.
func (s *site) drain(env []string, route []string, command string, status map[string]int) (parked []string, sweepLog string) {
	s.t.Helper()
	stages, out := testkit.RunPipelineEnv(s.t, s.bin, s.own, env, [][]string{
		{"mdclaim", s.pf.Intake},
		append([]string{"mdroute"}, route...),
		{"mdsweep", "-t", "30s", "-c", command},
		{"mdfail"},
	})
	for _, st := range stages {
		if want := status[st.Name]; st.Status != want {
			s.t.Errorf("%s exited %d, want %d; stderr:\n%s", st.Name, st.Status, want, st.Stderr.String())
		}
	}
	for _, st := range stages {
		if st.Stderr.Len() > 0 {
			s.t.Logf("%s:\n%s", st.Name, st.Stderr.String())
		}
	}
	for _, p := range strings.Fields(out) {
		parked = append(parked, postfixsite.TestID(s.t, p))
	}
	s.claimsLeft()
	return parked, stages[2].Stderr.String()
}

// claimsLeft fails the test if the intake still holds a message that is
// neither handed off nor parked.
func (s *site) claimsLeft() {
	s.t.Helper()
	for _, d := range []string{"new", "tmp"} {
		if left := testkit.Entries(s.t, filepath.Join(s.pf.Intake, d)); len(left) != 0 {
			s.t.Errorf("intake %s/ still holds %q", d, left)
		}
	}
	for _, n := range testkit.Entries(s.t, filepath.Join(s.pf.Intake, "cur")) {
		if !strings.HasSuffix(n, ":1,X") {
			s.t.Errorf("intake cur/ still holds the claim %s", n)
		}
	}
}

// skipMissing skips the test for a package this machine lacks, and fails
// it under CI (CI=true), which installs every package and must never pass
// by skipping. It is testkit.SkipMissing of branch h-errors: once both are
// merged, its body is that call.

// run runs a command, as own unless own is nil (as root: mlmmj's admin
// tools switch to the list's owner themselves), in dir /, and fails the
// test if it fails.
func run(t *testing.T, own *testkit.Owner, stdin string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	if own != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(own.UID), Gid: uint32(own.GID)}}
	}
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
