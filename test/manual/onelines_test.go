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

// sweepCommand finds an mdsweep -c command as the pages show it, quoted
// or not: the quoted text, or the one word.
var sweepCommand = regexp.MustCompile(`mdsweep -c (?:'([^']*)'|(\S+))`)

// envdirValue is what envdir(8) (and chpst -e, s6-envdir) give a variable
// whose file holds s: its first line, trailing blanks removed.
func envdirValue(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return strings.TrimRight(first, " \t")
}

// TestCommandsFitEnvdir: every mdsweep -c command the pages give, written
// into env/MDSWEEP_COMMAND as mdpipe-service(8) says, reaches mdsweep
// whole. A recipe of several lines was cut to its first line, and the
// first line of the Mailman inject recipe, l=$LIST@$HOST, exits 0: every
// message was handed off to nothing.
func TestCommandsFitEnvdir(t *testing.T) {
	root := testkit.ModuleRoot(t)
	sources := map[string]string{"README.md": testkit.ReadFile(t, filepath.Join(root, "README.md"))}
	for _, p := range testkit.Glob(t, filepath.Join(root, "man", "*.[178]")) {
		sources["man/"+filepath.Base(p)] = withoutColumnWidths(page(t, filepath.Base(p)))
	}
	seen := 0
	for name, text := range sources {
		for _, m := range sweepCommand.FindAllStringSubmatch(text, -1) {
			cmd := m[1] + m[2]
			if cmd == "" || strings.HasPrefix(cmd, "\"$") || strings.HasPrefix(cmd, "Ar") {
				continue // the synopsis's placeholder, or a variable
			}
			seen++
			if got := envdirValue(cmd + "\n"); got != cmd {
				t.Errorf("%s: the command of mdsweep -c, in env/MDSWEEP_COMMAND, reaches mdsweep as\n\t%s\nnot as the page gives it:\n\t%s", name, got, cmd)
			}
			if strings.Contains(cmd, "...") {
				t.Errorf("%s: mdsweep -c %q is cut short: a reader copies it as it is", name, cmd)
			}
		}
	}
	if seen < 8 {
		t.Errorf("found %d mdsweep -c commands in the pages, want the 8 recipes at least: is sweepCommand still right?", seen)
	}
}

// withoutColumnWidths drops a page's .Bl lines: a -column list's widths
// are sample text, not commands.
func withoutColumnWidths(text string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, ".Bl ") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// installed finds the scripts the pages name as commands.
var installed = regexp.MustCompile(`/usr/local/lib/mdpipe/([a-z-]+)`)

// TestListScriptsShipped: each script a page's mdsweep -c names is in
// examples/lists/, executable, valid sh, and installed by a line of the
// same page.
func TestListScriptsShipped(t *testing.T) {
	root := testkit.ModuleRoot(t)
	scripts := 0
	for _, name := range []string{"mdpipe-lists.7", "mdpipe.7"} {
		text := withoutColumnWidths(page(t, name))
		blocks := strings.Fields(strings.Join(literalBlocks(text), " "))
		for _, m := range sweepCommand.FindAllStringSubmatch(text, -1) {
			s := installed.FindStringSubmatch(m[1] + m[2])
			if s == nil {
				continue
			}
			scripts++
			src := filepath.Join(root, "examples", "lists", s[1])
			fi, err := os.Stat(src)
			if err != nil {
				t.Errorf("man/%s runs %s, and the source has no %s: %v", name, s[0], src, err)
				continue
			}
			if fi.Mode()&0o111 == 0 {
				t.Errorf("%s is not executable (mode %v)", src, fi.Mode())
			}
			if out, err := exec.Command("/bin/sh", "-n", src).CombinedOutput(); err != nil {
				t.Errorf("sh -n %s: %v\n%s", src, err, out)
			}
			if name == "mdpipe-lists.7" {
				install := "install -D -m 0755 examples/lists/" + s[1] + " " + s[0]
				if !strings.Contains(strings.Join(blocks, " "), install) {
					t.Errorf("man/%s runs %s but does not install it: no line %q", name, s[0], install)
				}
			}
		}
	}
	if scripts == 0 {
		t.Error("no page names a script of examples/lists/ as an mdsweep -c command")
	}
}
