package mta

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// TestManPageShowsMTARecipes checks that every line of the Exim and
// OpenSMTPD files these tests apply, but comments, is in mdpipe-mta(7) as
// the page shows it (placeholders as docValues fills them in), so that the
// page cannot drift from what is tested. It needs neither root nor the
// packages.
func TestManPageShowsMTARecipes(t *testing.T) {
	root := testkit.ModuleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, "man", "mdpipe-mta.7"))
	if err != nil {
		t.Fatal(err)
	}
	page := map[string]bool{}
	for _, l := range strings.Split(strings.ReplaceAll(string(b), `\e`, `\`), "\n") {
		page[squeeze(l)] = true
	}
	for _, name := range []string{
		"exim/conf.d/router/050_mdpipe", "exim/conf.d/transport/30_mdpipe",
		"exim/nonsplit.sh", "exim/split.sh", smtpdConf,
	} {
		for _, l := range strings.Split(docValues.Replace(testkit.ReadFile(t, filepath.Join(root, "examples", "mta", name))), "\n") {
			l = squeeze(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if !page[l] {
				t.Errorf("examples/mta/%s: %q is not in man/mdpipe-mta.7", name, l)
			}
		}
	}
}

// squeeze trims a line and makes each run of blanks one space.
func squeeze(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
