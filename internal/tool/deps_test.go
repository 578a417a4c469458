package tool

import (
	"os/exec"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// TestStagesLinkNoHeavyPackages keeps mdclaim, mdroute and mdfail free of
// the packages whose initialisation costs milliseconds at every start:
// the LMTP client (go-smtp, crypto/tls) and go-message's character sets,
// which only mdsweep and mdq need (see the package comment). It fails if
// this package, or one it imports, starts to import them.
func TestStagesLinkNoHeavyPackages(t *testing.T) {
	goCmd := testkit.GoCommand(t)
	heavy := []string{"github.com/emersion/go-smtp", "github.com/emersion/go-message", "crypto/tls", "golang.org/x/text/encoding"}
	for _, cmd := range []string{"mdclaim", "mdroute", "mdfail"} {
		out, err := exec.Command(goCmd, "list", "-deps", "mdpipe/cmd/"+cmd).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps mdpipe/cmd/%s: %v\n%s", cmd, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 || deps[len(deps)-1] != "mdpipe/cmd/"+cmd {
			t.Fatalf("go list -deps mdpipe/cmd/%s printed no dependency list:\n%s", cmd, out)
		}
		for _, d := range deps {
			for _, h := range heavy {
				if d == h || strings.HasPrefix(d, h+"/") {
					t.Errorf("%s links %s", cmd, d)
				}
			}
		}
	}
}
