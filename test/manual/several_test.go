package manual

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/smtpsink"
)

// TestSeveralManagers follows mdpipe-lists(7), "Several list managers in
// one service": an mlmmj list and a public-inbox archive behind one
// intake and one pipeline, the hand-off chosen per list by
// examples/lists/by-list, installed and run as the page says. A post to
// the mlmmj list reaches its archive, one to the inbox is filed, and mail
// for a list of neither is parked. Before, the manual had no recipe for
// this, and a sysadmin had to write the dispatcher.
func TestSeveralManagers(t *testing.T) {
	for _, p := range []string{"/usr/bin/mlmmj-receive", "/usr/bin/mlmmj-make-ml"} {
		if _, err := os.Stat(p); err != nil {
			testkit.SkipMissing(t, "no Debian mlmmj (apt-get install mlmmj): %v", err)
		}
	}
	s := newPISite(t, "archive")
	root := testkit.ModuleRoot(t)
	lib := filepath.Join(s.base, "lib")
	spool := filepath.Join(s.base, "mlmmj")
	testkit.Mkdir(t, spool, 0o755)
	testkit.ChownTree(t, spool, s.own.UID, s.own.GID)

	// mlmmj-make-ml asks for the domain, the owner, the texts' language,
	// and whether to chown the list to -c's user; mlmmj sends on to the
	// test's SMTP sink.
	sink := smtpsink.Start(t)
	mk := exec.Command("/usr/bin/mlmmj-make-ml", "-L", "mylist", "-s", spool, "-c", testkit.TestUser+":"+testkit.TestUser)
	mk.Stdin = strings.NewReader(domain + "\nowner@example.org\nen\ny\n")
	mk.Env = []string{"PATH=/usr/bin:/bin"}
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("mlmmj-make-ml: %v\n%s", err, out)
	}
	list := filepath.Join(spool, "mylist")
	testkit.WriteFile(t, filepath.Join(list, "control", "relayhost"), "127.0.0.1\n")
	testkit.WriteFile(t, filepath.Join(list, "control", "smtpport"), strconv.Itoa(sink.Port)+"\n")
	testkit.ChownTree(t, list, s.own.UID, s.own.GID)

	// The page's block: install the script, then mdroute's and mdsweep's
	// lines, which go between mdclaim and mdfail.
	block := strings.ReplaceAll(blockWith(t, "mdpipe-lists.7", "examples/lists/by-list", "mdsweep -c"), "/usr/local/lib/mdpipe", lib)
	var stages []string
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		switch l = strings.TrimSpace(l); {
		case strings.HasPrefix(l, "install "):
			sh(t, root, []string{"PATH=/usr/bin:/bin"}, l)
		case strings.HasPrefix(l, "mdroute"), strings.HasPrefix(l, "mdsweep"):
			stages = append(stages, l)
		}
	}
	if len(stages) != 2 {
		t.Fatalf("the page's block for by-list gives %q, want an mdroute line and an mdsweep line", stages)
	}
	pipeline := "mdclaim " + s.intake + " | " + strings.Join(stages, " | ") + " | mdfail"

	deliver(t, s.intake, s.own, "1795000000.M1P1.mx", "mylist@"+domain, "a post for mlmmj")
	deliver(t, s.intake, s.own, "1795000000.M2P1.mx", "archive@"+domain, "a post for the archive")
	deliver(t, s.intake, s.own, "1795000000.M3P1.mx", "nolist@"+domain, "for no list")
	// The service's env/: where the two managers keep their lists, and
	// public-inbox's HOME.
	env := []string{"PATH=" + s.bin + ":/usr/bin:/bin", "MLMMJ_SPOOL=" + spool, "PUBLIC_INBOXES=" + s.inboxes,
		"HOME=" + s.home, "MDSWEEP_GIVEUP=10s"}
	out, _ := asUser(t, s.own, env, pipeline)
	t.Logf("%s\n%s", pipeline, out)

	if arch := testkit.Glob(t, filepath.Join(list, "archive", "*")); len(arch) != 1 ||
		!strings.Contains(testkit.ReadFile(t, arch[0]), "Subject: a post for mlmmj") {
		tree, _ := exec.Command("find", list, "-newer", filepath.Join(list, "control", "smtpport")).CombinedOutput()
		t.Errorf("mlmmj's archive holds %q, want the post; new in the list's directory:\n%s", arch, tree)
	}
	if got := s.filed(t, "archive"); !strings.Contains(got, "a post for the archive") {
		t.Errorf("the inbox holds %q, not its post", got)
	}
	if left := testkit.Entries(t, filepath.Join(s.intake, "cur")); len(left) != 1 || left[0] != "1795000000.M3P1.mx:1,X" {
		t.Errorf("the intake's cur/ holds %q, want only the mail for no list, parked", left)
	}
	if !strings.Contains(out, "no list manager has the list 'nolist'") {
		t.Errorf("the log does not say why the mail for nolist was parked")
	}
}
