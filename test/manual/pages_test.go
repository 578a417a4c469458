package manual

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// section returns the text of a page's section (.Sh title) up to the
// next .Sh, or "".
func section(text, title string) string {
	i := strings.Index(text, "\n.Sh "+title+"\n")
	if i < 0 {
		return ""
	}
	rest := text[i+1:]
	if j := strings.Index(rest[1:], "\n.Sh "); j >= 0 {
		return rest[:j+2]
	}
	return rest
}

// TestDeploymentChecklist: mdpipe(7) has one checklist from apt-get to
// the first message at its list, before SEE ALSO; and each section
// of a page it sends the reader to exists there. Before, deploying took
// four pages and no checklist.
func TestDeploymentChecklist(t *testing.T) {
	text := page(t, "mdpipe.7")
	list := section(text, "DEPLOYMENT CHECKLIST")
	if list == "" {
		t.Fatal("mdpipe(7) has no DEPLOYMENT CHECKLIST section")
	}
	// Other sections may come between, but not SEE ALSO.
	if strings.Index(text, list) > strings.Index(text, "\n.Sh SEE ALSO\n") {
		t.Error("mdpipe(7)'s DEPLOYMENT CHECKLIST comes after SEE ALSO")
	}
	for _, want := range []string{"apt-get install", "runuser -u mdpipe", "/var/spool/mdpipe/queue/mylist/post/new"} {
		if !strings.Contains(list, want) {
			t.Errorf("the checklist does not show %q", want)
		}
	}
	// A reference is .Sx TITLE (this page), or .Xr PAGE N then .Dq TITLE
	// or .Sx TITLE (that page).
	lines := strings.Split(list, "\n")
	refs := 0
	for i, l := range lines {
		target := "mdpipe.7"
		if i > 0 && strings.HasPrefix(lines[i-1], ".Xr ") {
			f := strings.Fields(lines[i-1])
			target = f[1] + "." + f[2]
		} else if !strings.HasPrefix(l, ".Sx ") {
			continue
		}
		title, ok := strings.CutPrefix(l, ".Sx ")
		if !ok {
			if title, ok = strings.CutPrefix(l, ".Dq "); !ok {
				continue
			}
		}
		title = strings.TrimRight(title, " ,.;")
		refs++
		there := page(t, target)
		if !strings.Contains(there, "\n.Ss "+title+"\n") && !strings.Contains(there, "\n.Sh "+title+"\n") {
			t.Errorf("the checklist sends the reader to %s, %q, which has no such section", target, title)
		}
	}
	if refs < 5 {
		t.Errorf("found %d references to other sections in the checklist, want its steps' 5 at least", refs)
	}
}

// userAdd finds a command that makes a user.
var userAdd = regexp.MustCompile(`(?m)^\s*(adduser|useradd)\b.*$`)

// TestUsersMadeOnePlace: the users are made in one place, mdpipe-mta(7),
// "Users", one way; every other page refers to it. Before, that page
// used adduser --system and mdpipe-service(8) useradd -r, with another
// home and shell.
func TestUsersMadeOnePlace(t *testing.T) {
	root := testkit.ModuleRoot(t)
	for _, p := range append(testkit.Glob(t, filepath.Join(root, "man", "*.[178]")), filepath.Join(root, "README.md")) {
		name := filepath.Base(p)
		text := unescape.Replace(testkit.ReadFile(t, p))
		for _, m := range userAdd.FindAllString(strings.ReplaceAll(text, "\\\n", ""), -1) {
			if name != "mdpipe-mta.7" {
				t.Errorf("%s makes a user (%s): only mdpipe-mta(7), Users, should", name, strings.TrimSpace(m))
			} else if !strings.HasPrefix(strings.TrimSpace(m), "useradd --system --user-group") {
				t.Errorf("%s makes a user another way: %s", name, strings.TrimSpace(m))
			}
		}
	}
}

// TestVirtualMinimumUIDExplained: the Postfix virtual(8) recipe shows 999
// for the intake owner's uid in three lines, and virtual(8) refuses a uid
// below virtual_minimum_uid; the section must say that all three follow
// the uid, not only the two maps.
func TestVirtualMinimumUIDExplained(t *testing.T) {
	text := page(t, "mdpipe-mta.7")
	i := strings.Index(text, ".Ss Postfix, virtual(8) catch-all\n")
	j := strings.Index(text, "virtual_minimum_uid = 999")
	if i < 0 || j < i {
		t.Fatal("mdpipe-mta(7) has no Postfix virtual(8) section showing virtual_minimum_uid = 999")
	}
	if prose := text[i:j]; !strings.Contains(prose, ".Va virtual_minimum_uid") {
		t.Errorf("mdpipe-mta(7), Postfix virtual(8): the text before the block does not say that virtual_minimum_uid changes with the uid:\n%s", prose)
	}
}

// TestDemoSaysItFetchesModules: make demo builds the tools, which needs
// the modules go.mod names; with no module cache and no proxy the build
// fails, so the README must not say that the demo needs only Go.
func TestDemoSaysItFetchesModules(t *testing.T) {
	root := testkit.ModuleRoot(t)
	build := exec.Command(testkit.GoCommand(t), "build", "-o", t.TempDir()+"/", "mdpipe/cmd/mdclaim")
	build.Dir = root
	build.Env = append(os.Environ(), "GOPROXY=off", "GOMODCACHE="+t.TempDir(), "GOFLAGS=-mod=mod")
	out, err := build.CombinedOutput()
	if err == nil {
		t.Skip("the tools build with no module cache and no proxy: nothing to say")
	}
	t.Logf("with no module cache and GOPROXY=off: %v\n%s", err, out)
	readme := testkit.ReadFile(t, filepath.Join(root, "README.md"))
	for _, l := range strings.Split(readme, "\n") {
		if strings.Contains(l, "make demo") && strings.Contains(l, "needs only Go") {
			t.Errorf("README: %q, but the demo's build fetches modules", strings.TrimSpace(l))
		}
	}
	if !strings.Contains(readme, "fetches the modules") {
		t.Error("README does not say that make demo's first build fetches the modules go.mod names")
	}
}
