// Package mailman proves the hand-offs against a real GNU Mailman 3
// (Debian's mailman3 package): the real mdclaim | mdroute | mdsweep | mdfail
// binaries, run as user list, hand an intake over LMTP and through
// `mailman inject` to a private Mailman instance, and the test looks where
// Mailman queued each message.
//
// It needs root (to run Mailman and the pipeline as user list) and the
// mailman command; it skips without them.
package mailman

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/mailmansite"
)

const domain = mailmansite.Domain

// site is a private Mailman instance and an intake, all owned by list.
type site struct {
	*mailmansite.Site
	t      *testing.T
	intake string
}

func TestMain(m *testing.M) { testkit.Main(m) }

func newSite(t *testing.T) *site {
	mailmansite.Require(t)
	bin := testkit.BuildTools(t)
	ms := mailmansite.New(t)
	ms.Bin = bin
	s := &site{Site: ms, t: t, intake: filepath.Join(ms.Root, "intake")}
	testkit.Maildir(t, s.intake, 0o755)
	testkit.ChownTree(t, s.intake, s.Own.UID, s.Own.GID)
	return s
}

// mailman runs a mailman command as list against the private config.
func (s *site) mailman(args ...string) {
	s.t.Helper()
	s.Mailman(s.t, args...)
}

// deliver puts a message for rcpt into the intake's new/, as an MTA does;
// its Message-ID names it.
func (s *site) deliver(name, rcpt string) {
	msg := fmt.Sprintf("Return-Path: <alice@example.org>\n"+
		"Delivered-To: %s\n"+
		"From: Alice <alice@example.org>\nTo: %s\nSubject: %s\n"+
		"Date: Sat, 28 Nov 2026 12:00:00 +0000\nMessage-ID: <%s@mdpipe.test>\n"+
		"MIME-Version: 1.0\nContent-Type: text/plain\n\nhello from %s\n", rcpt, rcpt, name, name, name)
	p := testkit.Deliver(s.t, s.intake, "1795000000.M"+name+"P1.mdpipe", msg)
	if err := os.Chown(p, s.Own.UID, s.Own.GID); err != nil {
		s.t.Fatal(err)
	}
}

// pipeline runs the four tools over the intake as list, with sweep as
// mdsweep's hand-off flags, and returns mdfail's output and everyone's log.
func (s *site) pipeline(sweep string) (parked, log string) {
	s.t.Helper()
	sh := `mdclaim "$INTAKE" | mdroute | mdsweep -v -t 30s ` + sweep + ` | mdfail -v`
	cmd := s.AsList(exec.Command("/bin/sh", "-c", sh), "INTAKE="+s.intake)
	var out, errs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errs
	start := time.Now()
	if err := cmd.Run(); err != nil {
		s.t.Errorf("pipeline: %v", err)
	}
	s.t.Logf("pipeline %s: %v\n%s", sweep, time.Since(start).Round(time.Millisecond), errs.String())
	return out.String(), errs.String()
}

// queued returns the queue directory (in, command, bounces, ...) where
// Mailman holds the message with this name, "" if none.
func (s *site) queued(name string) string {
	s.t.Helper()
	return s.Queued(s.t, "<"+name+"@mdpipe.test>")
}

// intakeLeft lists the messages left in the intake's new/ and cur/: not
// the dot-files beside them (the reason kept with a parked message), which
// every maildir reader passes by.
func (s *site) intakeLeft() []string {
	var left []string
	for _, d := range []string{"new", "cur"} {
		for _, name := range testkit.Entries(s.t, filepath.Join(s.intake, d)) {
			left = append(left, d+"/"+name)
		}
	}
	return left
}

func TestMailman(t *testing.T) {
	begin := time.Now()
	// Registered first, so it runs last: after mailman stop.
	t.Cleanup(func() { t.Logf("wall time %v", time.Since(begin).Round(time.Millisecond)) })
	s := newSite(t)
	s.mailman("create", "mylist@"+domain)
	s.Start(t)

	t.Run("lmtp", func(t *testing.T) {
		s.t = t
		cases := []struct{ name, rcpt, queue string }{
			{"post", "mylist@", "in"},
			{"request", "mylist-request@", "command"},
			{"bounces", "mylist-bounces+bob=example.net@", "bounces"},
			{"confirm", "mylist-confirm+c0ffee@", "command"},
			{"join", "mylist-join@", "command"},
			{"leave", "mylist-leave@", "command"},
			{"owner", "mylist-owner@", "in"},
			{"unknown", "nolist@", ""},
		}
		for _, c := range cases {
			s.deliver(c.name, c.rcpt+domain)
		}
		parked, log := s.pipeline("-l " + s.LMTP())
		for _, c := range cases {
			if got := s.queued(c.name); got != c.queue {
				t.Errorf("%s (%s%s): queued in %q, want %q", c.name, c.rcpt, domain, got, c.queue)
			}
		}
		unknown := filepath.Join(s.intake, "cur", "1795000000.MunknownP1.mdpipe")
		if want := unknown + ":1,X\n"; parked != want {
			t.Errorf("mdfail printed %q, want %q", parked, want)
		}
		if !strings.Contains(log, "mdsweep: cannot hand off '"+unknown+":1,P': RCPT TO:<nolist@"+domain+">: 550 ") {
			t.Errorf("no 550 from Mailman for the unknown list in the log")
		}
		if left := s.intakeLeft(); len(left) != 1 || left[0] != "cur/1795000000.MunknownP1.mdpipe:1,X" {
			t.Errorf("left in the intake: %q, want only the unknown one, parked", left)
		}
		os.Remove(unknown + ":1,X")
	})

	t.Run("inject", func(t *testing.T) {
		s.t = t
		s.deliver("injected", "mylist@"+domain)
		s.deliver("injectunknown", "nolist@"+domain)
		// mailman inject exits 2 (a usage error) for an unknown list: a
		// site's recipe turns that into 100, and anything else into 111.
		parked, log := s.pipeline(`-c 'mailman -C "$CFG" inject -q in "$LIST@$HOST" || { [ $? = 2 ] && exit 100; exit 111; }'`)
		if got := s.queued("injected"); got != "in" {
			t.Errorf("injected: queued in %q, want in", got)
		}
		unknown := filepath.Join(s.intake, "cur", "1795000000.MinjectunknownP1.mdpipe")
		if parked != unknown+":1,X\n" {
			t.Errorf("mdfail printed %q, want the unknown one", parked)
		}
		if !strings.Contains(log, "mdsweep: command '"+unknown+":1,P': Error: No such list: nolist@"+domain) {
			t.Errorf("the command's stderr is not in the log, prefixed")
		}
		if left := s.intakeLeft(); len(left) != 1 || left[0] != "cur/1795000000.MinjectunknownP1.mdpipe:1,X" {
			t.Errorf("left in the intake: %q, want only the unknown one, parked", left)
		}
	})
	s.t = t
}
