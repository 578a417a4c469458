package postfix

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/postfixsite"
)

// manPage shows the recipes to admins, with the placeholders filled in as
// docValues says.
const manPage = "../../man/mdpipe-mta.7"

var docValues = strings.NewReplacer(
	"@CONFIG_DIR@", "/etc/postfix",
	"@INTAKE_BASE@", "/var/spool/mdpipe",
	"@UID@", "999",
	"@GID@", "999",
)

// TestManPageShowsPostfixRecipes checks that every setting of the Postfix
// recipe files, which the Postfix tests run, is in mdpipe-mta(7) as the
// page shows it, so that the page cannot drift from what is tested. It
// needs neither root nor Postfix.
func TestManPageShowsPostfixRecipes(t *testing.T) {
	b, err := os.ReadFile(manPage)
	if err != nil {
		t.Fatal(err)
	}
	// The page's literal text, as a reader sees it.
	page := map[string]bool{}
	for _, l := range strings.Split(strings.ReplaceAll(string(b), `\e`, `\`), "\n") {
		page[squeeze(l)] = true
	}
	recipeDir := postfixsite.RecipeDir(t)
	for _, name := range []string{"postconf-virtual.sh", "vmailbox.pcre", "postconf-local.sh", "mdpipe-aliases"} {
		for _, l := range strings.Split(docValues.Replace(testkit.ReadFile(t, filepath.Join(recipeDir, name))), "\n") {
			l = squeeze(l)
			if l == "" || strings.HasPrefix(l, "#") {
				continue
			}
			// The page shows the aliases of one list, mylist.
			if name == "mdpipe-aliases" && !strings.HasPrefix(l, "mylist") {
				continue
			}
			if !page[l] {
				t.Errorf("%s/%s: %q is not in %s", recipeDir, name, l, manPage)
			}
		}
	}
}

// squeeze trims a line and makes each run of blanks one space.
func squeeze(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
