package lists

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/postfixsite"
	"mdpipe/internal/testkit/smtpsink"
)

// mlmmj is a list made by mlmmj-make-ml under a private spool, as an
// admin makes /var/spool/mlmmj/mylist, owned by the pipeline's user, with
// relayhost and smtpport pointing at the test's SMTP sink.
type mlmmj struct {
	*site
	spool, dir string
	sink       *smtpsink.Sink
}

const (
	mlmmjOwner = "owner@example.org" // control/owner
	alice      = "alice@example.org" // subscribed by the admin
	bob        = "bob@example.net"   // subscribes and leaves by mail
)

func requireMlmmj(t *testing.T) {
	for _, p := range []string{"/usr/bin/mlmmj-receive", "/usr/bin/mlmmj-make-ml", "/usr/bin/mlmmj-sub", "/usr/share/mlmmj/text.skel/en"} {
		if _, err := os.Stat(p); err != nil {
			testkit.SkipMissing(t, "no Debian mlmmj (apt-get install mlmmj): %v", err)
		}
	}
}

func newMlmmj(t *testing.T) *mlmmj {
	postfixsite.Require(t)
	requireMlmmj(t)
	m := &mlmmj{sink: smtpsink.Start(t)}
	m.site = newSite(t, "mdpipe-mlmmj-")
	m.spool = m.mkdir("mlmmj")
	m.dir = filepath.Join(m.spool, "mylist")
	// mlmmj-make-ml asks for the domain, the owner, the texts' language,
	// and whether to chown the list to -c's user.
	run(t, nil, domain+"\n"+mlmmjOwner+"\nen\ny\n", nil,
		"/usr/bin/mlmmj-make-ml", "-L", "mylist", "-s", m.spool, "-c", fmt.Sprintf("%d:%d", m.own.UID, m.own.GID))
	control := filepath.Join(m.dir, "control")
	testkit.WriteFile(t, filepath.Join(control, "relayhost"), "127.0.0.1\n")
	testkit.WriteFile(t, filepath.Join(control, "smtpport"), strconv.Itoa(m.sink.Port)+"\n")
	// Only subscribers may post: a post that reaches the list shows that
	// mlmmj saw the sender.
	testkit.WriteFile(t, filepath.Join(control, "subonlypost"), "")
	testkit.ChownTree(t, m.dir, m.own.UID, m.own.GID)
	// The admin subscribes alice: forced, quiet, no welcome.
	run(t, nil, "", nil, "/usr/bin/mlmmj-sub", "-L", m.dir, "-a", alice, "-f", "-q", "-s")
	if !m.subscribed(alice) {
		t.Fatalf("mlmmj-sub did not subscribe %s", alice)
	}
	return m
}

// drain hands the intake to mlmmj with the recipe of mdpipe-lists(7).
func (m *mlmmj) drain(status map[string]int) []string {
	m.t.Helper()
	sub := strings.NewReplacer("/var/spool/mlmmj", m.spool)
	parked, _ := m.site.drain(nil, strings.Fields(sub.Replace(mlmmjRoute)), sub.Replace(mlmmjCommand), status)
	return parked
}

// subscribed reports whether subscribers.d lists addr.
func (m *mlmmj) subscribed(addr string) bool {
	for _, f := range testkit.Glob(m.t, filepath.Join(m.dir, "subscribers.d", "*")) {
		for _, l := range strings.Split(testkit.ReadFile(m.t, f), "\n") {
			if l == addr {
				return true
			}
		}
	}
	return false
}

// mailTo waits for the sink to hold mail for rcpt containing substr, and
// returns the first.
func (m *mlmmj) mailTo(rcpt, substr string) smtpsink.Mail {
	m.t.Helper()
	var got []smtpsink.Mail
	m.wait("mail for "+rcpt+" with "+strconv.Quote(substr)+" at the SMTP sink", func() bool {
		got = m.sink.To(rcpt, substr)
		return len(got) > 0
	})
	return got[0]
}

// file waits for a file of the list directory to exist and returns it.
func (m *mlmmj) file(rel string) string {
	m.t.Helper()
	p := filepath.Join(m.dir, rel)
	m.wait(rel+" in the list directory", func() bool {
		_, err := os.Stat(p)
		return err == nil
	})
	return testkit.ReadFile(m.t, p)
}

// wait polls cond for 30s, and fails the test with mlmmj's logs if it
// never holds.
func (m *mlmmj) wait(what string, cond func() bool) {
	m.t.Helper()
	if !testkit.Until(30*time.Second, cond) {
		m.t.Fatalf("timed out after 30s waiting for %s; mlmmj's logs:\n%s", what, m.errorLog())
	}
}

// errorLog is mlmmj's own log of the list, for failure messages.
func (m *mlmmj) errorLog() string {
	var b strings.Builder
	for _, f := range []string{"mlmmj.operation.log", "mlmmj.log"} {
		if s, err := os.ReadFile(filepath.Join(m.dir, f)); err == nil {
			b.WriteString(f + ":\n" + string(s))
		}
	}
	// mlmmj logs its errors to syslog, not to the list directory.
	if out, err := exec.Command("journalctl", "-q", "--no-pager", "-n", "30", "-t", "mlmmj-process", "-t", "mlmmj-receive", "-t", "mlmmj-send").CombinedOutput(); err == nil {
		b.Write(out)
	}
	return b.String()
}

// confirmAddress returns the Reply-To address of mlmmj's confirmation
// mail to rcpt, a list address with kind (confsub, confunsub) and the
// cookie in its extension.
func (m *mlmmj) confirmAddress(rcpt, kind string) string {
	m.t.Helper()
	c := m.mailTo(rcpt, "+"+kind+"-")
	addr := strings.Trim(c.Header("Reply-To"), "<> ")
	if !strings.HasPrefix(addr, "mylist+"+kind+"-") || !strings.HasSuffix(addr, "@"+domain) {
		m.t.Fatalf("mlmmj's confirmation to %s has Reply-To %q, want mylist+%s-COOKIE@%s", rcpt, addr, kind, domain)
	}
	return addr
}

// TestMlmmj: a post from a subscriber, one from a stranger, a VERP
// bounce, mail for the owner, a subscription and an unsubscription each
// with mlmmj's confirmation, and mail for a list mlmmj has not, each
// through Postfix, the intake and mdpipe into mlmmj-receive.
func TestMlmmj(t *testing.T) {
	began := time.Now()
	t.Cleanup(func() { t.Logf("wall time %v", time.Since(began).Round(time.Millisecond)) })
	m := newMlmmj(t)

	// 1. A post from alice, a subscriber; one from dave, who is not; mail
	// for a list that is not in the spool.
	m.send(
		postfixsite.Message{ID: "mlmmj-post", From: alice, Rcpts: []string{"mylist@" + domain}},
		postfixsite.Message{ID: "mlmmj-stranger", From: "dave@example.com", Rcpts: []string{"mylist@" + domain}},
		postfixsite.Message{ID: "mlmmj-nolist", From: alice, Rcpts: []string{"nolist+subscribe@" + domain}},
	)
	// mdroute -l refuses the list that is not in the spool: parked, and
	// mdsweep never saw it.
	// mdroute parks it (100), and so mdsweep, which passes it on.
	if parked := m.drain(map[string]int{"mdroute": 100, "mdsweep": 100}); len(parked) != 1 || parked[0] != "mlmmj-nolist" {
		t.Errorf("parked %q, want only mlmmj-nolist", parked)
	}
	// The post is the list's message 1, in the archive...
	if a := m.file("archive/1"); !strings.Contains(a, "X-Test-Id: mlmmj-post\n") {
		t.Errorf("archive/1 is not the post:\n%s", a)
	}
	if _, err := os.Stat(filepath.Join(m.dir, "archive", "2")); err == nil {
		t.Errorf("archive/2 exists: the stranger's post reached the list")
	}
	// ...and was sent on to alice, from mlmmj's VERP address for message 1.
	post := m.mailTo(alice, "X-Test-Id: mlmmj-post\n")
	verp := "mylist+bounces-1-alice=example.org@" + domain
	if post.From != verp {
		t.Errorf("the post went to alice from <%s>, want <%s>", post.From, verp)
	}
	// The stranger got mlmmj's refusal, not the list.
	m.mailTo("dave@example.com", "")
	if got := m.sink.To(alice, "X-Test-Id: mlmmj-stranger\n"); len(got) != 0 {
		t.Errorf("the stranger's post was sent to the list")
	}

	// 2. A bounce to that VERP address (null sender), mail for the owner,
	// and bob's subscription request.
	m.send(
		postfixsite.Message{ID: "mlmmj-bounce", From: "", Rcpts: []string{verp},
			Header: "Subject: Undelivered Mail Returned to Sender\n"},
		postfixsite.Message{ID: "mlmmj-owner", From: "carol@example.com", Rcpts: []string{"mylist+owner@" + domain}},
		// The owner as Mailman and RFC 2142 spell it, from a subscriber:
		// mlmmj reads no extension in it, and would take it for a post,
		// but DEFAULT, set by mdsweep as qmail-local would, says owner.
		postfixsite.Message{ID: "mlmmj-dash-owner", From: alice, Rcpts: []string{"mylist-owner@" + domain}},
		postfixsite.Message{ID: "mlmmj-subscribe", From: bob, Rcpts: []string{"mylist+subscribe@" + domain}},
	)
	if parked := m.drain(nil); len(parked) != 0 {
		t.Errorf("parked %q, want none", parked)
	}
	// mlmmj-bounce counted the bounce against alice, for message 1.
	if b := m.file("bounce/alice=example.org"); !strings.HasPrefix(b, "1:") {
		t.Errorf("bounce/alice=example.org is %q, want a bounce of message 1", b)
	}
	if b := m.file("bounce/alice=example.org.lastmsg"); !strings.Contains(b, "X-Test-Id: mlmmj-bounce\n") {
		t.Errorf("bounce/alice=example.org.lastmsg is not the bounce:\n%s", b)
	}
	// The owner's mail went to control/owner, and the list logged it.
	if o := m.mailTo(mlmmjOwner, "X-Test-Id: mlmmj-owner\n"); o.From != "carol@example.com" {
		t.Errorf("the owner's mail came from <%s>, want carol's", o.From)
	}
	if log := m.file("mlmmj.operation.log"); !strings.Contains(log, "sending mail from carol@example.com to owner") {
		t.Errorf("mlmmj.operation.log has no owner mail:\n%s", log)
	}
	m.mailTo(mlmmjOwner, "X-Test-Id: mlmmj-dash-owner\n")
	if _, err := os.Stat(filepath.Join(m.dir, "archive", "2")); err == nil {
		t.Errorf("archive/2 exists: mail for mylist-owner was posted to the list")
	}
	// The subscription waits for bob's confirmation.
	confsub := m.confirmAddress(bob, "confsub")
	if m.subscribed(bob) {
		t.Fatalf("%s subscribed before confirming", bob)
	}
	if f := testkit.Glob(t, filepath.Join(m.dir, "subconf", "*")); len(f) != 1 {
		t.Errorf("subconf/ holds %q, want bob's one request", f)
	}

	// 3. Bob confirms, by replying to the confirmation.
	m.send(postfixsite.Message{ID: "mlmmj-confsub", From: bob, Rcpts: []string{confsub}})
	m.drain(nil)
	m.wait(bob+" in subscribers.d after confirming", func() bool { return m.subscribed(bob) })
	m.mailTo(bob, "Welcome_to_mylist")

	// 4. Bob asks to leave...
	m.send(postfixsite.Message{ID: "mlmmj-unsubscribe", From: bob, Rcpts: []string{"mylist+unsubscribe@" + domain}})
	m.drain(nil)
	confunsub := m.confirmAddress(bob, "confunsub")
	if !m.subscribed(bob) {
		t.Fatalf("%s unsubscribed before confirming", bob)
	}
	// ...and confirms.
	m.send(postfixsite.Message{ID: "mlmmj-confunsub", From: bob, Rcpts: []string{confunsub}})
	m.drain(nil)
	m.wait(bob+" gone from subscribers.d after confirming", func() bool { return !m.subscribed(bob) })
	if !m.subscribed(alice) {
		t.Errorf("%s lost her subscription", alice)
	}
	if t.Failed() {
		t.Logf("list directory %s:\n%s", m.dir, m.errorLog())
	}
}
