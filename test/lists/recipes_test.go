package lists

import (
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// The recipes of mdpipe-lists(7), exactly as the page gives them: mdroute's
// flags and mdsweep's -c command. The live tests run them with the paths
// of their private instances put in place of the system's.
const (
	mlmmjRoute   = `-l /var/spool/mlmmj`
	mlmmjCommand = `exec /usr/bin/mlmmj-receive -F -L "/var/spool/mlmmj/$LIST"`

	publicInboxRoute   = `-l /etc/mdpipe/inboxes`
	publicInboxCommand = `public-inbox-mda; s=$?; [ $s = 67 ] && s=100; exit $s`
)

// TestRecipesInManual: the page shows the lines the live tests run, so
// that the two cannot drift.
func TestRecipesInManual(t *testing.T) {
	page := filepath.Join(testkit.ModuleRoot(t), "man", "mdpipe-lists.7")
	// mdoc's escapes, as a reader sees them.
	text := strings.NewReplacer(`\e`, `\`, `\&`, ``, `\-`, `-`).Replace(testkit.ReadFile(t, page))
	for _, want := range []string{
		"mdroute " + mlmmjRoute,
		"mdsweep -c '" + mlmmjCommand + "'",
		"mdroute " + publicInboxRoute,
		"mdsweep -c '" + publicInboxCommand + "'",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("%s does not show the tested recipe line\n\t%s", page, want)
		}
	}
}
