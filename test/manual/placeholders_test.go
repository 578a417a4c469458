package manual

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// installedAsFiles are the example files mdpipe-mta(7) tells a reader to
// install as they are (copy, or insert into Exim's template), relative to
// examples/mta. The Postfix files are shown on the page filled in, and
// their placeholders are named in each file.
var installedAsFiles = []string{
	"exim/conf.d/router/050_mdpipe",
	"exim/conf.d/transport/30_mdpipe",
	"opensmtpd/smtpd.conf",
}

// TestPlaceholdersNamedInFile: every example file names each placeholder
// it holds in its own comments, as mdpipe-mta(7) says each file does.
func TestPlaceholdersNamedInFile(t *testing.T) {
	root := filepath.Join(testkit.ModuleRoot(t), "examples")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		text := testkit.ReadFile(t, p)
		var comments strings.Builder
		for _, l := range strings.Split(text, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "#") {
				comments.WriteString(l + "\n")
			}
		}
		named := map[string]bool{}
		for _, ph := range placeholder.FindAllString(text, -1) {
			if !named[ph] && !strings.Contains(comments.String(), ph) {
				named[ph] = true
				rel, _ := filepath.Rel(root, p)
				t.Errorf("examples/%s holds %s and its comments do not say what it stands for", rel, ph)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPageFillsInPlaceholders follows mdpipe-mta(7) in a copy of the
// source: its blocks that start with "cd examples/mta/" run there, as a
// reader runs them from the top of the source, and then no file the page
// installs may hold a placeholder. Before, Exim's transport was installed
// with @INTAKE_BASE@, @USER@ and @GROUP@ in it, and smtpd.conf with
// @INTAKE_BASE@ and @USER@, and the page never said so.
func TestPageFillsInPlaceholders(t *testing.T) {
	src := filepath.Join(testkit.ModuleRoot(t), "examples", "mta")
	top := t.TempDir()
	sh(t, "/", []string{"PATH=/usr/bin:/bin"}, "mkdir -p '"+top+"/examples' && cp -R '"+src+"' '"+top+"/examples/'")
	ran := 0
	for _, b := range literalBlocks(page(t, "mdpipe-mta.7")) {
		if strings.HasPrefix(b, "cd examples/mta/") {
			sh(t, top, []string{"PATH=/usr/bin:/bin"}, b)
			ran++
		}
	}
	t.Logf("ran %d blocks of mdpipe-mta(7) that fill in placeholders", ran)
	for _, f := range installedAsFiles {
		if ph := placeholder.FindAllString(testkit.ReadFile(t, filepath.Join(top, "examples", "mta", f)), -1); ph != nil {
			t.Errorf("examples/mta/%s, after the page's commands, still holds %q: installed as the page says, it would not work", f, ph)
		}
	}
}
