package postfix

import (
	"fmt"
	"strings"
	"testing"

	"mdpipe/internal/testkit/postfixsite"
)

// message is one SMTP transaction. Every message carries a unique
// X-Test-Id, which is how the test finds it again after the pipeline.
type message struct {
	id     string
	from   string // "" is the null sender
	rcpts  []string
	header string // extra header lines, LF-terminated, placed on top
	want   []dest // one per rcpt, in order
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
	one := func(id, from, rcpt, list, sub string) message {
		return message{id: id, from: from, rcpts: []string{rcpt}, want: []dest{{List: list, Sub: sub}}}
	}
	ms := []message{
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
		{id: "two-lists", from: s,
			rcpts: []string{"mylist@lists.example.test", "other@lists.example.test"},
			want:  []dest{{List: "mylist", Sub: "post"}, {List: "other", Sub: "post"}}},
		{id: "forwarded", from: s, rcpts: []string{"mylist@lists.example.test"},
			header: forwardedHeader, want: []dest{{List: "mylist", Sub: "post"}}},
		{id: "8bit", from: s, rcpts: []string{"mylist@lists.example.test"},
			header: rawSubject, want: []dest{{List: "mylist", Sub: "post"}}},
		one("unknown-list", s, unknownList, "", ""),
	}
	return ms
}

// aliasCases are for local(8) aliases, which know every list address:
// Postfix itself refuses the unknown list at RCPT TO.
func aliasCases() []message {
	const s = "sender@example.org"
	one := func(id, from, rcpt, list, sub string) message {
		return message{id: id, from: from, rcpts: []string{rcpt}, want: []dest{{List: list, Sub: sub}}}
	}
	return []message{
		one("post", s, "mylist@lists.example.test", "mylist", "post"),
		one("request", s, "mylist-request@lists.example.test", "mylist", "request"),
		one("bounces-verp", "", "mylist-bounces+alice=example.org@lists.example.test", "mylist", "bounces"),
		one("confirm", s, "mylist-confirm+0123456789abcdef@lists.example.test", "mylist", "confirm"),
		one("owner", s, "mylist-owner@lists.example.test", "mylist", "owner"),
		one("admin", s, "mylist-admin@lists.example.test", "mylist", "bounces"),
		one("mixed-case", s, "MyList-Subscribe@Lists.Example.TEST", "mylist", "join"),
		one("dash-verp", "", "foo-bar-bounces+bob=example.net@lists.example.test", "foo-bar", "bounces"),
		{id: "two-lists", from: s,
			rcpts: []string{"mylist@lists.example.test", "foo-bar@lists.example.test"},
			want:  []dest{{List: "mylist", Sub: "post"}, {List: "foo-bar", Sub: "post"}}},
		{id: "forwarded", from: s, rcpts: []string{"mylist@lists.example.test"},
			header: forwardedHeader, want: []dest{{List: "mylist", Sub: "post"}}},
		{id: "unknown-list", from: s, rcpts: []string{unknownList, "mylist-leave@lists.example.test"},
			want: []dest{{Refused: true}, {List: "mylist", Sub: "leave"}}},
	}
}

// bulkLists and bulkPerList make the 500 posts across 20 lists.
const bulkLists, bulkPerList = 20, 25

func bulkList(i int) string { return fmt.Sprintf("list%02d", i%bulkLists+1) }

func bulk() []message {
	var ms []message
	for i := 0; i < bulkLists*bulkPerList; i++ {
		l := bulkList(i)
		ms = append(ms, message{id: fmt.Sprintf("bulk-%03d", i), from: "sender@example.org",
			rcpts: []string{l + "@lists.example.test"}, want: []dest{{List: l, Sub: "post"}}})
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
		sm := postfixsite.Message{ID: m.id, From: m.from, Rcpts: m.rcpts, Header: m.header}
		for _, d := range m.want {
			sm.Refused = append(sm.Refused, d.Refused)
		}
		sms = append(sms, sm)
	}
	pf.Send(t, sms)
}
