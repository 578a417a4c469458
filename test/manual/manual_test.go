// Package manual follows the manual as a new sysadmin would, and checks
// that each step does what the page says, on a real file system with the
// real programs: the traps a first deployment by the pages fell into.
//
//   - onelines_test.go: every mdsweep -c command of the pages is one
//     line, as an envdir file holds one; the longer recipes are scripts
//     in examples/lists/, installed as the page says.
//   - placeholders_test.go: the page's commands fill in every placeholder
//     of the Exim and OpenSMTPD files it tells you to install.
//   - postfix_test.go: the Postfix recipes work from Debian's "No
//     configuration", which leaves no main.cf.
//   - queue_test.go: a list made as the pages say is one the service's
//     user can write, run once by hand as the pages say.
//   - publicinbox_test.go: public-inbox-mda, with the environment the page
//     gives, as a supervisor runs it (no HOME of its own).
//   - several_test.go: mlmmj and public-inbox behind one service, by the
//     script examples/lists/by-list.
//   - mailman_test.go: the script examples/lists/mailman-inject against a
//     private Mailman 3.
//   - pages_test.go: the deployment checklist and where it points, users
//     made one way in one place, virtual_minimum_uid, the demo's modules.
//
// The tests that need root or Debian's packages skip with the reason (and
// fail under CI=true, as testkit.SkipMissing does).
package manual

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// domain is the list domain of every page.
const domain = "lists.example.test"

// unescape turns mdoc's escapes into what a reader sees.
var unescape = strings.NewReplacer(`\e`, `\`, `\&`, ``, `\-`, `-`, `\(aq`, `'`, `\(dq`, `"`)

// page returns a man page of the tree as a reader sees its text.
func page(t *testing.T, name string) string {
	t.Helper()
	return unescape.Replace(testkit.ReadFile(t, filepath.Join(testkit.ModuleRoot(t), "man", name)))
}

// literalBlocks returns the text of each .Bd -literal ... .Ed block of a
// page (as page returns it), shell continuation lines joined.
func literalBlocks(text string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(l, ".Bd -literal"):
			in, cur = true, nil
		case in && l == ".Ed":
			in = false
			blocks = append(blocks, strings.ReplaceAll(strings.Join(cur, "\n")+"\n", "\\\n", ""))
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

// blockWith returns the page's first literal block that contains every
// one of subs, or fails the test.
func blockWith(t *testing.T, name string, subs ...string) string {
	t.Helper()
	for _, b := range literalBlocks(page(t, name)) {
		all := true
		for _, s := range subs {
			all = all && strings.Contains(b, s)
		}
		if all {
			return b
		}
	}
	t.Fatalf("man/%s shows no command block with %q", name, subs)
	return ""
}

// placeholder is a value for a reader to fill in, as the example files
// spell them.
var placeholder = regexp.MustCompile(`@[A-Z_]+@`)

// sh runs a shell script, in dir, with env, and returns its output; the
// test fails if it fails.
func sh(t *testing.T, dir string, env []string, script string) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-ec", script)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("following the page:\n%s\nfailed: %v\n%s", script, err, out)
	}
	return string(out)
}

// scratch returns a new directory, 0755 so that the pipeline's user can
// reach what is under it (t.TempDir's parents are 0700), removed at the
// end of the test.
func scratch(t *testing.T) string {
	t.Helper()
	return testkit.OpenTempDir(t, "mdpipe-manual-")
}
