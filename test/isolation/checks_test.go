package isolation

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// A recipient or sender no command environment may carry is parked with a reason, never run.
func TestRecipientAndSenderChecks(t *testing.T) {
	// Bytes that are not UTF-8, the line separator U+2028, the C1
	// control NEL, a domain "-", a sender an option parser would take
	// for an option: refused as the ASCII control characters are, and
	// the message behind handed off.
	const good = "sender@example.org"
	for _, tc := range []struct{ name, rcpt, sender string }{
		{"recipient not UTF-8", "b+x\xffy@lists.example.test", good},
		{"recipient U+2028", "b+x\u2028y@lists.example.test", good},
		{"recipient NEL", "b+x\xc2\x85y@lists.example.test", good},
		{"recipient list@-", "b@-", good},
		{"sender not UTF-8", "b@lists.example.test", "x\xffy@example.org"},
		{"sender U+2028", "b@lists.example.test", "x\u2028y@example.org"},
		{"sender NEL", "b@lists.example.test", "x\xc2\x85y@example.org"},
		{"sender begins with -", "b@lists.example.test", "-oQ/tmp/x@example.org"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			// The poison message sorts first; the control one waits
			// behind it.
			s.deliver(msgName(0), message(tc.rcpt, tc.sender, msgID(0)))
			s.deliverFor(1, "b")
			p := startPipeline(t, nil, s.env(), [][]string{
				{"mdclaim", s.intake},
				{"mdroute"},
				{"mdsweep", "-t", "3s", "-c", s.script},
				{"mdfail"},
			}...)
			p.wait(stopWithin)
			for _, line := range s.handedOff("b") {
				if strings.HasPrefix(line, msgID(0)+" ") {
					t.Errorf("the command ran for the message, with RECIPIENT SENDER %q", strings.TrimPrefix(line, msgID(0)+" "))
				}
			}
			b := msgName(0)
			if at := s.inIntake(b); len(at) != 1 || at[0] != filepath.Join("cur", b+":1,X") {
				t.Errorf("the message is at %v, want it parked as cur/%s:1,X", at, b)
			}
			claim := filepath.Join(s.intake, "cur", b+":1,P")
			reason := regexp.MustCompile(`(?m)^md(route|sweep): .*'` + regexp.QuoteMeta(claim) + `'`)
			if !reason.MatchString(p.log()) {
				t.Errorf("no line of mdroute or mdsweep names %s with a reason", claim)
			}
			if got := s.byID("b")[msgID(1)]; len(got) != 1 {
				t.Errorf("the control message behind it was handed off %d times, want 1", len(got))
			}
		})
	}
}
