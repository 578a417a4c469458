package postfix

import (
	"fmt"
	"strings"
	"testing"

	"mdpipe/internal/testkit/postfixsite"
)

// message is one SMTP transaction (its X-Test-Id is how the test finds
// it again after the pipeline) and where each recipient's copy must end.
type message struct {
	postfixsite.Message
	want []dest // one per rcpt, in order
}

// to is a message to the recipients rcpts, each of whose copies must end
// in its dest.
func to(id, from, header string, rcpts []string, want ...dest) message {
	m := message{Message: postfixsite.Message{ID: id, From: from, Rcpts: rcpts, Header: header}, want: want}
	for _, d := range want {
		m.Refused = append(m.Refused, d.Refused)
	}
	return m
}

// one is a message to one recipient whose copy must end in list/sub.
func one(id, from, rcpt, list, sub string) message {
	return to(id, from, "", []string{rcpt}, dest{List: list, Sub: sub})
}

// dest is the queue one recipient's copy must end in. List "" means
// parked as X; Refused, that Postfix refuses the RCPT TO.
type dest struct {
	List, Sub string
	Refused   bool
}

// unknownList is the address of a list that mdroute -l does not know.
const unknownList = "nosuchlist@lists.example.test"

// rawSubject has raw 8-bit header bytes: UTF-8 and bare Latin-1, which is
// not UTF-8. Postfix must pass them through and mdpipe must not mind.
const rawSubject = "Subject: caf\xc3\xa9 \xe9t\xe9 \xff raw 8-bit\n"

// forwardedHeader is what an earlier hop at another domain left: its own
// envelope headers, which sit below the ones Postfix adds and must never
// be read. Were mdroute to take them, the message would go to "other".
const forwardedHeader = "Received: from old.elsewhere.test by mx.elsewhere.test; Sat, 28 Nov 2026 10:00:00 +0000\n" +
	"Delivered-To: other@elsewhere.test\n" +
	"X-Original-To: other@elsewhere.test\n"

// cases are the kinds of list address mdroute knows, each with its route.
func cases() []message {
	const s = "sender@example.org"
	return []message{
		one("post", s, "mylist@lists.example.test", "mylist", "post"),
		one("request", s, "mylist-request@lists.example.test", "mylist", "request"),
		one("bounces", "", "mylist-bounces@lists.example.test", "mylist", "bounces"),
		one("bounces-verp", "", "mylist-bounces+alice=example.org@lists.example.test", "mylist", "bounces"),
		one("confirm", s, "mylist-confirm+0123456789abcdef@lists.example.test", "mylist", "confirm"),
		one("join", s, "mylist-join@lists.example.test", "mylist", "join"),
		one("leave", s, "mylist-leave@lists.example.test", "mylist", "leave"),
		one("owner", s, "mylist-owner@lists.example.test", "mylist", "owner"),
		one("subscribe", s, "mylist-subscribe@lists.example.test", "mylist", "join"),
		one("unsubscribe", s, "mylist-unsubscribe@lists.example.test", "mylist", "leave"),
		one("admin", s, "mylist-admin@lists.example.test", "mylist", "bounces"),
		one("mixed-case", s, "MyList-Request@Lists.Example.TEST", "mylist", "request"),
		one("dash-post", s, "foo-bar@lists.example.test", "foo-bar", "post"),
		one("dash-request", s, "foo-bar-request@lists.example.test", "foo-bar", "request"),
		one("dash-verp", "", "foo-bar-bounces+bob=example.net@lists.example.test", "foo-bar", "bounces"),
		to("two-lists", s, "", []string{"mylist@lists.example.test", "other@lists.example.test"},
			dest{List: "mylist", Sub: "post"}, dest{List: "other", Sub: "post"}),
		to("forwarded", s, forwardedHeader, []string{"mylist@lists.example.test"}, dest{List: "mylist", Sub: "post"}),
		to("8bit", s, rawSubject, []string{"mylist@lists.example.test"}, dest{List: "mylist", Sub: "post"}),
		one("unknown-list", s, unknownList, "", ""),
	}
}

// aliasCases are for local(8) aliases, which know every list address:
// some of cases, and Postfix itself refuses the unknown list at RCPT TO.
func aliasCases() []message {
	const s = "sender@example.org"
	ms := []message{
		one("mixed-case", s, "MyList-Subscribe@Lists.Example.TEST", "mylist", "join"),
		to("two-lists", s, "", []string{"mylist@lists.example.test", "foo-bar@lists.example.test"},
			dest{List: "mylist", Sub: "post"}, dest{List: "foo-bar", Sub: "post"}),
		to("unknown-list", s, "", []string{unknownList, "mylist-leave@lists.example.test"},
			dest{Refused: true}, dest{List: "mylist", Sub: "leave"}),
	}
	aliased := map[string]bool{"post": true, "request": true, "bounces-verp": true, "confirm": true,
		"owner": true, "admin": true, "dash-verp": true, "forwarded": true}
	for _, m := range cases() {
		if aliased[m.ID] {
			ms = append(ms, m)
		}
	}
	return ms
}

// bulkLists and bulkPerList make the 500 posts across 20 lists.
const bulkLists, bulkPerList = 20, 25

func bulkList(i int) string { return fmt.Sprintf("list%02d", i%bulkLists+1) }

func bulk() []message {
	var ms []message
	for i := 0; i < bulkLists*bulkPerList; i++ {
		l := bulkList(i)
		ms = append(ms, one(fmt.Sprintf("bulk-%03d", i), "sender@example.org", l+"@lists.example.test", l, "post"))
	}
	return ms
}

// knownLists is the mdroute -l file: every list the cases name, and not
// nosuchlist.
func knownLists() string {
	var b strings.Builder
	b.WriteString("# lists of test/postfix\nmylist\nother\nfoo-bar\n")
	for i := 0; i < bulkLists; i++ {
		b.WriteString(bulkList(i) + "\n")
	}
	return b.String()
}

// send sends ms over one SMTP session to the instance pf.
func send(t *testing.T, pf *postfixsite.Instance, ms []message) {
	t.Helper()
	var sms []postfixsite.Message
	for _, m := range ms {
		sms = append(sms, m.Message)
	}
	pf.Send(t, sms)
}
