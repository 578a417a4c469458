package isolation

import (
	"strconv"
	"syscall"
	"testing"

	"mdpipe/internal/testkit"
)

// A stop leaves nothing claimed, whichever stage is signalled and however often.
func TestStopLeavesNothingClaimed(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lists []string // message i goes to lists[i%len(lists)]
		fail  bool     // list a's hand-off fails (exit 111)
		stop  func(p *pipeline)
	}{
		{"TERM to mdclaim alone", []string{"b"}, false,
			func(p *pipeline) { p.signal(claimStage, syscall.SIGTERM) }},
		{"TERM to mdroute alone", []string{"b"}, false,
			func(p *pipeline) { p.signal(routeStage, syscall.SIGTERM) }},
		{"TERM to mdsweep alone", []string{"b"}, false,
			func(p *pipeline) { p.signal(sweepStage, syscall.SIGTERM) }},
		{"TERM to mdfail alone", []string{"b"}, false,
			func(p *pipeline) { p.signal(failStage, syscall.SIGTERM) }},
		{"three quick TERMs to every stage", []string{"b"}, false, func(p *pipeline) {
			for range 3 {
				p.signalGroup(syscall.SIGTERM)
				testkit.Poll(p.t, stopWithin, "every stage to take the TERM", func() bool { return p.taken(syscall.SIGTERM) })
			}
		}},
		{"a failing destination and a slow one", []string{"a", "b"}, true,
			func(p *pipeline) { p.signalGroup(syscall.SIGTERM) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			if tc.fail {
				testkit.WriteFile(t, s.flag, "")
			}
			const total, bound = 100, 16
			for i := range total {
				s.deliverFor(i, tc.lists[i%len(tc.lists)])
			}
			// List b's command takes 50 ms, so that the stop finds
			// claims in every stage and pipe.
			p := startPipeline(t, nil, s.env("ISO_SLOW=0.05", "ISO_SLOWLIST=b"), s.standard(strconv.Itoa(bound))...)
			// The stop comes once half the bound is claimed and the
			// hand-offs are under way: list b has taken two, or list
			// a's command has failed once (today, a's failure holds up b).
			testkit.Poll(t, stopWithin, "hand-offs under way and claims held", func() bool {
				return (s.count("b") >= 2 || s.count("failed") >= 1) && s.claims() >= bound/2
			})
			tc.stop(p)
			p.wait(stopWithin)
			if n := s.claims(); n != 0 {
				t.Errorf("the stop left %d claims: %v", n, s.claimNames())
			}
			got := s.byID(tc.lists...)
			for i := range total {
				reached, at := got[msgID(i)], s.inIntake(msgName(i))
				switch {
				case len(reached) > 1:
					t.Errorf("message %d was handed off %d times", i, len(reached))
				case len(reached) == 0 && len(at) == 0:
					t.Errorf("message %d is lost: neither handed off nor in the intake", i)
				case len(reached) == 1 && len(at) != 0:
					t.Errorf("message %d was handed off and is still in the intake, at %v", i, at)
				}
			}
			t.Logf("%d of %d handed off before the stop ended", s.countAll(tc.lists...), total)
		})
	}
}
