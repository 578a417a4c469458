package hostile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/testkit/smtpsink"
)

// Poison messages (mdpipe(7), RULES: temporary or permanent): a message
// whose own bytes make its hand-off fail fails so on every try. It is
// parked as X with its reason, and the message behind it is handed off in
// the same run; before, each was retried as temporary for ever (here:
// until -t gives up, exit 111).

// poisonB sorts before the control message, so that mdclaim claims it
// first and the control one waits behind it.
const poisonB = "1699999999.M1P1Q1.poison"

const poisonTail = "Delivered-To: mylist@lists.example.test\nFrom: a@example.org\nSubject: poison\n\nbody\n"

// poisonCommand runs the pipeline with a command hand-off that records
// each message it took in out, and checks the poison one parked with a
// reason matching re, the control one delivered.
func poisonCommand(t *testing.T, content, re string) {
	s := newSite(t)
	ok := s.control()
	s.deliver(poisonB, content)
	out := t.TempDir()
	s.mark()
	r := s.sh(`mdclaim "$INTAKE" | mdroute | OUT=` + out + ` mdsweep -t 3s -c 'cat >"$OUT/${MESSAGE##*/}"' | mdfail`)
	r.wantStatus(t, 0, 0, 100, 0)
	r.reason(t, "mdsweep", "cannot hand off '"+filepath.Join(s.intake, "cur", poisonB+":1,P")+"': .*"+re)
	s.wantAt(poisonB, "X")
	s.wantGone(ok)
	if _, err := os.Stat(filepath.Join(out, ok+":1,P")); err != nil {
		t.Errorf("the control message did not reach the command: %v", err)
	}
}

func (s *site) wantGone(b string) {
	s.t.Helper()
	for _, p := range []string{filepath.Join(s.intake, "new", b), filepath.Join(s.intake, "cur", b+":1,P"), filepath.Join(s.intake, "cur", b+":1,X")} {
		if _, err := os.Lstat(p); err == nil {
			s.t.Errorf("message %s still at %s, want it handed off", b, p)
		}
	}
}

func TestPoisonSenderNUL(t *testing.T) {
	poisonCommand(t, "Return-Path: <a\x00b@example.org>\n"+poisonTail, "sender .*control character")
}

func TestPoisonSenderFolded200K(t *testing.T) {
	var b strings.Builder
	b.WriteString("Return-Path: <a")
	for b.Len() < 200<<10 {
		b.WriteString("\n\t" + strings.Repeat("x", 70))
	}
	b.WriteString("@example.org>\n")
	poisonCommand(t, b.String()+poisonTail, "sender .*longer than")
}

func TestPoisonSenderBareCRLMTP(t *testing.T) {
	s, r, sink := poisonLMTP(t, "Return-Path: <a\rb@example.org>\n")
	r.reason(t, "mdsweep", "cannot hand off '"+filepath.Join(s.intake, "cur", poisonB+":1,P")+"': .*sender .*control character")
	for _, f := range sink.Froms() {
		if strings.ContainsAny(f, "\r\n ") {
			t.Errorf("MAIL FROM:<%q> reached the server", f)
		}
	}
}

// A header cannot add a MAIL FROM parameter: the server sees none.
func TestPoisonSenderParameterLMTP(t *testing.T) {
	poisonLMTP(t, "Return-Path: <a@example.org> SIZE=1 BODY=8BITMIME\n")
}

// poisonLMTP hands a control message and a poison one (head, then
// poisonTail) to an LMTP server: the poison is parked as X, and the
// server takes the control alone.
func poisonLMTP(t *testing.T, head string) (*site, result, *smtpsink.Sink) {
	t.Helper()
	sink := smtpsink.StartWith(t, smtpsink.Options{LMTP: true})
	s := newSite(t)
	ok := s.control()
	s.deliver(poisonB, head+poisonTail)
	s.mark()
	r := s.sh(`mdclaim "$INTAKE" | mdroute | mdsweep -t 3s -l ` + sink.Addr() + ` | mdfail`)
	r.wantStatus(t, 0, 0, 100, 0)
	s.wantAt(poisonB, "X")
	s.wantGone(ok)
	if n := len(sink.Mail()); n != 1 {
		t.Errorf("the server took %d messages, want 1 (the control)", n)
	}
	return s, r, sink
}

// A recipient whose DETAIL or HOST would carry "/" or ".." into a
// command's environment is refused, not escaped: parked with the reason.
func TestPoisonRecipientPathCommand(t *testing.T) {
	for _, tc := range []struct{ name, rcpt string }{
		{"detail", "mylist-bounces+../../etc/passwd=example.org@lists.example.test"},
		{"host", "mylist@lists..example.test"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			poisonCommand(t, strings.Replace(poisonTail, "mylist@lists.example.test", tc.rcpt, 1),
				"recipient .*(/ or \\.\\.|domain label)")
		})
	}
}
