package manual

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/mailmansite"
)

// TestMailmanInjectScript installs examples/lists/mailman-inject as
// mdpipe-lists(7), "Mailman 3, mailman inject", says and runs the page's
// mdsweep line against a private Mailman 3, as user list, with Mailman's
// configuration named in the environment as a service's env/ would: each
// subqueue lands in the queue the LMTP runner would choose, and mail for
// a list Mailman has not is parked. Before, this recipe was a block of
// lines that env/MDSWEEP_COMMAND cut to l=$LIST@$HOST, which exits 0.
func TestMailmanInjectScript(t *testing.T) {
	ms := mailmansite.New(t)
	ms.Bin = testkit.BuildTools(t)
	intake := filepath.Join(ms.Root, "intake")
	for _, d := range []string{intake, intake + "/tmp", intake + "/new", intake + "/cur"} {
		testkit.Mkdir(t, d, 0o700)
	}
	testkit.ChownTree(t, intake, ms.Own.UID, ms.Own.GID)
	ms.Mailman(t, "create", "mylist@"+domain)

	lib := filepath.Join(ms.Root, "lib")
	block := strings.ReplaceAll(blockWith(t, "mdpipe-lists.7", "examples/lists/mailman-inject", "mdsweep -c"), "/usr/local/lib/mdpipe", lib)
	var sweep string
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		switch l = strings.TrimSpace(l); {
		case strings.HasPrefix(l, "install "):
			sh(t, testkit.ModuleRoot(t), []string{"PATH=/usr/bin:/bin"}, l)
		case strings.HasPrefix(l, "mdsweep -c "):
			sweep = l
		}
	}
	if sweep == "" {
		t.Fatalf("the page's block gives no mdsweep -c line:\n%s", block)
	}

	cases := []struct{ name, rcpt, queue string }{
		{"post", "mylist@", "in"},
		{"request", "mylist-request@", "command"},
		{"bounces", "mylist-bounces+bob=example.net@", "bounces"},
		{"owner", "mylist-owner@", "in"},
		{"join", "mylist-join@", "command"},
		{"unknown", "nolist@", ""},
	}
	for i, c := range cases {
		deliver(t, intake, ms.Own, "1795000000.M"+string(rune('1'+i))+"P1."+c.name, c.rcpt+domain, c.name)
	}
	cmd := ms.AsList(exec.Command("/bin/sh", "-c", "mdclaim "+intake+" | mdroute | "+sweep+" | mdfail"),
		"MAILMAN_CONFIG_FILE="+ms.Cfg, "MDSWEEP_GIVEUP=30s")
	out, err := cmd.CombinedOutput()
	t.Logf("pipeline: %v\n%s", err, out)

	for i, c := range cases {
		name := "1795000000.M" + string(rune('1'+i)) + "P1." + c.name
		if got := ms.Queued(t, "<"+name+"@example.org>"); got != c.queue {
			t.Errorf("%s (%s%s): queued in %q, want %q", c.name, c.rcpt, domain, got, c.queue)
		}
	}
	if left := testkit.Entries(t, filepath.Join(intake, "cur")); len(left) != 1 || left[0] != "1795000000.M6P1.unknown:1,X" {
		t.Errorf("the intake's cur/ holds %q, want only the mail for no list, parked", left)
	}
}
