package manual

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// noConfiguration makes a Postfix configuration directory as Debian's
// "No configuration" answer leaves /etc/postfix: master.cf, no main.cf;
// and an aliases file in place of /etc/aliases, which Debian's postinst
// makes whatever the answer.
func noConfiguration(t *testing.T) (dir string, subst *strings.Replacer) {
	t.Helper()
	testkit.NeedCommand(t, "postconf", "postfix")
	testkit.NeedCommand(t, "newaliases", "postfix")
	master := "/usr/share/postfix/master.cf.dist"
	if _, err := os.Stat(master); err != nil {
		testkit.SkipMissing(t, "no Debian Postfix (apt-get install postfix): %v", err)
	}
	dir = t.TempDir()
	testkit.WriteFile(t, filepath.Join(dir, "master.cf"), testkit.ReadFile(t, master))
	testkit.WriteFile(t, filepath.Join(dir, "aliases"), "postmaster: root\n")
	return dir, strings.NewReplacer("/etc/postfix", dir, "/etc/aliases", filepath.Join(dir, "aliases"))
}

// TestPostfixFromNoConfiguration follows mdpipe-mta(7) after the answer
// "No configuration", which the README says will do: the page's step for
// a missing main.cf, if it has one, then each Postfix recipe's postconf
// lines, on a copy of what Debian leaves. Before, there was no such step,
// and every postconf -e of the page failed: main.cf did not exist.
func TestPostfixFromNoConfiguration(t *testing.T) {
	blocks := literalBlocks(page(t, "mdpipe-mta.7"))
	for _, c := range []struct {
		name, recipe string // the recipe's block holds recipe
		param, want  string // and then postconf -h param is want
	}{
		{"virtual", "virtual_mailbox_maps = pcre:/etc/postfix/vmailbox.pcre", "virtual_mailbox_maps", "pcre:/etc/postfix/vmailbox.pcre"},
		// Debian's compiled-in alias_maps has nis:mail.aliases, which
		// its answers other than "No configuration" take out: appended
		// to, it would defer every local delivery.
		{"local", "alias_maps = $(postconf -h alias_maps)", "alias_maps", "hash:/etc/aliases, hash:/etc/postfix/mdpipe-aliases"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, subst := noConfiguration(t)
			env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "MAIL_CONFIG=" + dir}
			ran := false
			for _, b := range blocks {
				if strings.Contains(b, "main.cf.debian") || strings.Contains(b, c.recipe) {
					sh(t, "/", env, subst.Replace(b))
					ran = ran || strings.Contains(b, c.recipe)
				}
			}
			if !ran {
				t.Fatalf("man/mdpipe-mta.7 has no block with %q", c.recipe)
			}
			got := strings.TrimSpace(sh(t, "/", env, "postconf -h "+c.param))
			if want := subst.Replace(c.want); got != want {
				t.Errorf("after the page, %s = %s, want %s", c.param, got, want)
			}
			// Postfix runs on what the page made: no warning about it.
			if out := sh(t, "/", env, "postconf -n 2>&1 >/dev/null"); out != "" {
				t.Errorf("postconf -n warns about the main.cf the page made:\n%s", out)
			}
		})
	}
}
