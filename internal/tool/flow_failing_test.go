package tool

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/testkit"

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
// (the list manager is down): the failing destination holds up nothing,
// every message is deferred (cur/B:1,D) on disk rather than held as a
// claim, the stop does not wait out the grace, and it leaves nothing
// claimed; each message is deferred or in new/, once.
func TestFlowStopFailing(t *testing.T) {
	t.Parallel()
	for _, tg := range failingTargets() {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			maildir, names, sweep, taken := tg.backlog(t, 3*flowBound)
			const grace = 20 * time.Second
			f := startBounded(t, []string{"MDPIPE_GRACE=" + grace.String()}, maildir, sweep)
			if !testkit.Until(time.Minute, func() bool { return len(deferred(t, maildir)) == len(names) }) {
				t.Fatalf("the pipeline did not defer all %d messages within a minute (%d deferred)\n%s",
					len(names), len(deferred(t, maildir)), f.logs())
			}
			_, allGone := f.stopClean(t)
			if allGone >= grace/2 {
				t.Errorf("the stop took %v: it waited for the grace, with nothing to hand off", allGone)
			}
			if got := taken(); len(got) != 0 {
				t.Errorf("a hand-off that fails took %v", got)
			}
			if n := countHeld(maildir); n != 0 {
				t.Errorf("the stop left %d claims\n%s", n, f.logs())
			}
			left := readDir(t, filepath.Join(maildir, "new"))
			checkOnce(t, append(deferred(t, maildir), left...), names)
		})
	}
}

// deferred returns the unique names of the deferred messages, B of
// cur/B:1,D.
func deferred(t *testing.T, maildir string) []string {
	var out []string
	for _, name := range readDir(t, filepath.Join(maildir, "cur")) {
		if b, ok := strings.CutSuffix(name, ":1,D"); ok {
			out = append(out, b)
		}
	}
	return out
}
