package isolation

import (
	"os"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// A message for two lists keeps which one took it: after a stop or a crash and a restart, only the other gets it.
func TestPartialHandOffAcrossRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		// tries is how many of list a's failures to wait for before
		// the end: a crash comes after the second, so that the outcome
		// of the first try (b took it) had a whole retry's time to
		// reach the disk; a death before that is a duplicate that
		// mdsweep(1), "Duplicates", names.
		tries int
		clean bool // a stop, after which nothing may be claimed
		end   func(p *pipeline)
	}{
		{"stop", 1, true, func(p *pipeline) {
			p.signalGroup(syscall.SIGTERM)
			p.wait(stopWithin)
		}},
		{"crash", 2, false, func(p *pipeline) {
			p.kill()
			p.wait(stopWithin)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			testkit.WriteFile(t, s.flag, "")
			b := msgName(0)
			s.deliver(b, message("a@lists.example.test, b@lists.example.test", "sender@example.org", msgID(0)))
			p := startPipeline(t, nil, s.env(), s.standard("64")...)
			testkit.Poll(t, stopWithin, "list b to take the message and list a to fail it", func() bool {
				return s.count("b") >= 1 && s.count("failed") >= tc.tries
			})
			tc.end(p)
			if n := s.claims(); n != 0 && tc.clean {
				t.Errorf("the stop left %d claims: %v", n, s.claimNames())
			}

			// The restart returns at once whatever the end left claimed
			// (-r 1s), as the service's -r does once its age has passed.
			if err := os.Remove(s.flag); err != nil {
				t.Fatal(err)
			}
			restart := s.standard("64")
			restart[0] = []string{"mdclaim", "-f", "-k", "64", "-r", "1s", s.intake}
			p = startPipeline(t, nil, s.env(), restart...)
			if !testkit.Until(2*time.Minute, func() bool { return s.count("a") >= 1 }) {
				t.Errorf("after a restart with its failure gone, list a did not get the message in 2 minutes; it is at %v", s.inIntake(b))
			}
			p.signalGroup(syscall.SIGTERM)
			p.wait(stopWithin)
			got := s.byID("a", "b")[msgID(0)]
			if len(got) != 2 || got[0] != "a" || got[1] != "b" {
				t.Errorf("the message reached %v, want [a b], each once", got)
			}
			if at := s.inIntake(b); len(at) != 0 {
				t.Errorf("the message is still in the intake, at %v", at)
			}
		})
	}
}
