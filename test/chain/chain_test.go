// Package chain runs the whole chain from SMTP to the list manager, all
// real, in one test:
// SMTP into a private Postfix, whose virtual(8) catch-all delivers the list
// domain into the intake; mdclaim | mdroute | mdsweep -l | mdfail, run as
// the intake's owner, hands each message over LMTP to a private Mailman 3;
// the test looks in which of Mailman's queues each one landed.
//
// Postfix and the pipeline share the intake (a user the test makes and
// removes); Mailman
// runs as list and shares nothing with them but the LMTP socket.
//
// It needs root, Postfix with pcre maps and Debian's mailman3; it skips
// without them. CI runs it as root.
package chain

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/mailmansite"
	"mdpipe/internal/testkit/postfixsite"
)

func TestMain(m *testing.M) { testkit.Main(m) }

const domain = mailmansite.Domain

// hop is one message sent over SMTP, and the Mailman queue it must reach
// ("" for parked in the intake as X).
type hop struct {
	id, from, rcpt, queue string
}

// hops are the kinds of list address Mailman answers, for the list mylist
// that Mailman knows, and one for a list it does not.
var hops = []hop{
	{"chain-post", "alice@example.org", "mylist@", "in"},
	{"chain-request", "alice@example.org", "mylist-request@", "command"},
	{"chain-bounces", "", "mylist-bounces+bob=example.net@", "bounces"},
	{"chain-confirm", "alice@example.org", "mylist-confirm+c0ffee0123456789@", "command"},
	{"chain-join", "alice@example.org", "mylist-join@", "command"},
	{"chain-leave", "alice@example.org", "mylist-leave@", "command"},
	{"chain-owner", "alice@example.org", "mylist-owner@", "in"},
	{"chain-unknown", "alice@example.org", "nosuchlist@", ""},
}

func TestPostfixToMailman(t *testing.T) {
	postfixsite.Require(t)
	mailmansite.Require(t)
	began := time.Now()
	// Registered first, so it runs last: after both servers stopped.
	t.Cleanup(func() { t.Logf("wall time %v", time.Since(began).Round(time.Millisecond)) })
	own := postfixsite.Owner(t)
	bin := testkit.BuildTools(t)
	builtAt := time.Now()

	// Mailman first: it is the slow one to start, and the Postfix lock
	// (other test packages wait for it) is taken only once it listens.
	mm := mailmansite.New(t)
	mm.Mailman(t, "create", "mylist@"+domain)
	mm.Start(t)
	mailmanUp := time.Now()

	// One 0755 directory for Postfix: its user must reach its queue, the
	// pipeline's user the intake.
	base := testkit.OpenTempDir(t, "mdpipe-chain-") // removed after Postfix stops
	pf := postfixsite.New(t, base, own, postfixsite.VirtualRecipe)
	pf.Start(t)
	postfixUp := time.Now()

	var ms []postfixsite.Message
	for _, h := range hops {
		ms = append(ms, postfixsite.Message{ID: h.id, From: h.from, Rcpts: []string{h.rcpt + domain}})
	}
	pf.Send(t, ms)
	newDir := filepath.Join(pf.Intake, "new")
	testkit.Poll(t, time.Minute, "Postfix to deliver every message into the intake", func() bool {
		return pf.QueueEmpty(t) && len(testkit.Entries(t, newDir)) >= len(hops)
	})
	if n := len(testkit.Entries(t, newDir)); n != len(hops) {
		t.Fatalf("intake new/ holds %d files, want %d\nmaillog:\n%s", n, len(hops), pf.Log())
	}
	delivered := time.Now()

	stages, parked := testkit.RunPipeline(t, bin, own, [][]string{
		{"mdclaim", pf.Intake},
		{"mdroute"},
		{"mdsweep", "-t", "30s", "-l", mm.LMTP()},
		{"mdfail"},
	})
	piped := time.Now()
	for _, s := range stages {
		want := 0
		if s.Name == "mdsweep" {
			// Mailman's 550 for the unknown list is permanent: mdsweep
			// passes the path on to mdfail and says so in its status.
			want = 100
		}
		if s.Status != want {
			t.Errorf("%s exited %d, want %d; stderr:\n%s", s.Name, s.Status, want, s.Stderr.String())
		}
	}

	for _, h := range hops {
		if got := mm.Queued(t, postfixsite.MessageID(h.id)); got != h.queue {
			t.Errorf("%s (%s%s): in Mailman's queue %q, want %q", h.id, h.rcpt, domain, got, h.queue)
		}
	}
	checkIntake(t, pf.Intake, parked, stages[2].Stderr.String())
	if t.Failed() {
		t.Logf("mailman.log:\n%s", mm.Log())
	}

	t.Logf("go build %v, Mailman create and start %v, Postfix set-up and start %v, SMTP and delivery %v, pipeline %v",
		builtAt.Sub(began).Round(time.Millisecond), mailmanUp.Sub(builtAt).Round(time.Millisecond),
		postfixUp.Sub(mailmanUp).Round(time.Millisecond), delivered.Sub(postfixUp).Round(time.Millisecond),
		piped.Sub(delivered).Round(time.Millisecond))
}

// checkIntake checks that the intake holds nothing but the unknown list's
// message, parked as :1,X, that mdfail printed its path, and that
// mdsweep's stderr has Mailman's 550 for it.
func checkIntake(t *testing.T, intake, parked, mdsweepStderr string) {
	t.Helper()
	for _, d := range []string{"new", "tmp"} {
		if left := testkit.Entries(t, filepath.Join(intake, d)); len(left) != 0 {
			t.Errorf("intake %s/ still holds %q", d, left)
		}
	}
	cur := testkit.Entries(t, filepath.Join(intake, "cur"))
	if len(cur) != 1 || !strings.HasSuffix(cur[0], ":1,X") {
		t.Fatalf("intake cur/ holds %q, want only the unknown list's message, parked as :1,X (no claim left)", cur)
	}
	x := filepath.Join(intake, "cur", cur[0])
	if id := postfixsite.TestID(t, x); id != "chain-unknown" {
		t.Errorf("parked %s is %q, want the unknown list's message", x, id)
	}
	if parked != x+"\n" {
		t.Errorf("mdfail printed %q, want %q", parked, x+"\n")
	}
	claim := strings.TrimSuffix(x, "X") + "P"
	want := "mdsweep: cannot hand off '" + claim + "': RCPT TO:<nosuchlist@" + domain + ">: 550 "
	if !strings.Contains(mdsweepStderr, want) {
		t.Errorf("mdsweep's stderr has no %q...; it has:\n%s", want, mdsweepStderr)
	}
}
