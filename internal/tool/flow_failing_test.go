package tool

import (
	"fmt"
	"mdpipe/internal/testkit"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// A stop that cannot hand off all the pipeline holds gives the rest back
// to new/ at once, instead of leaving it claimed for mdclaim -r: a claim
// is a promise to finish soon. Past the grace: TestFlowStop.

// failingTargets are hand-offs that fail temporarily every time: a list
// manager that is down.
func failingTargets() []slowTarget {
	return []slowTarget{
		{"command", func(t *testing.T, dir string, i int) ([]string, func() []string) {
			return []string{"mdsweep", "-c", "cat >/dev/null; exit 75"}, func() []string { return nil }
		}},
		{"lmtp", func(t *testing.T, dir string, i int) ([]string, func() []string) {
			s := startSlowLMTP(t, 0, &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "down for maintenance"})
			return []string{"mdsweep", "-l", s.addr}, s.taken
		}},
	}
}

// TestFlowStopFailing stops a pipeline whose hand-off fails temporarily
// (the list manager is down): it does not wait out the grace, the
// message whose hand-off failed stays claimed, said in one line, and
// every other claim the pipeline holds is back in new/, for the next
// pipeline to take at once.
func TestFlowStopFailing(t *testing.T) {
	t.Parallel()
	for _, tg := range failingTargets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			maildir, names, sweep, taken := tg.backlog(t, 3*flowBound)
			const grace = 20 * time.Second
			f := startBounded(t, []string{"MDPIPE_GRACE=" + grace.String()}, maildir, sweep)
			if !testkit.Until(time.Minute, func() bool {
				return countHeld(maildir) == flowBound && strings.Contains(f.stderr[2].String(), "retrying in")
			}) {
				t.Fatalf("the pipeline did not fill its bound and retry within a minute\n%s", f.logs())
			}
			_, allGone := f.stopClean(t)
			if allGone >= grace/2 {
				t.Errorf("the stop took %v: it waited for the grace, with nothing to hand off", allGone)
			}
			if got := taken(); len(got) != 0 {
				t.Errorf("a hand-off that fails took %v", got)
			}
			var held []string
			for _, name := range readDir(t, filepath.Join(maildir, "cur")) {
				held = append(held, strings.TrimSuffix(name, ":1,P"))
			}
			if len(held) != 1 {
				t.Fatalf("cur/ holds %v after the stop, want the one message in hand\n%s", held, f.logs())
			}
			if want := fmt.Sprintf("stopping; left claimed '%s'", filepath.Join(maildir, "cur", held[0]+":1,P")); !strings.Contains(f.stderr[2].String(), want) {
				t.Errorf("mdsweep did not say %q\n%s", want, f.logs())
			}
			left := readDir(t, filepath.Join(maildir, "new"))
			if len(left) != len(names)-1 {
				t.Errorf("new/ holds %d after the stop, want %d: all but the one in hand\n%s", len(left), len(names)-1, f.logs())
			}
			checkOnce(t, append(held, left...), names)
		})
	}
}
