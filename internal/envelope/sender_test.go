package envelope

import (
	"strings"
	"testing"
)

func TestSender(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"<alice@example.org>", "alice@example.org"},
		{"  <Alice.B+x@Example.ORG> ", "Alice.B+x@Example.ORG"},
		{"alice@example.org", "alice@example.org"},
		{"<>", ""},
		{"", ""},
		{"< >", ""},
		{"<#@[]>", "#@[]"}, // qmail's double bounce
		{"<a@[192.0.2.1]>", "a@[192.0.2.1]"},
		{"<a@[IPv6:2001:db8::1]>", "a@[IPv6:2001:db8::1]"},
		{"<m\xc3\xbcller@example.org>", "m\xc3\xbcller@example.org"},
		{"<" + strings.Repeat("a", 242) + "@example.org>", strings.Repeat("a", 242) + "@example.org"},
	} {
		got, err := Sender(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("Sender(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{
		"<a\x00b@example.org>",
		"<a\rb@example.org>",
		"<a@example.org\r>",
		"<a@example.org> SIZE=1",
		"<a@example.org> <b@example.org>",
		"<a@example.org>\x00",
		"<a@example.org SIZE=1>",
		"<a>b@example.org>",
		"<a@ex ample.org>",
		"<\"a b\"@example.org>",
		"<@relay:a@example.org>",
		"<a@example..org>",
		"<a@example.org.>",
		"<a@exa/mple.org>",
		"<a@[1.2.3.4>]>",
		"<a@>",
		"<@example.org>",
		"<noat>",
		"<a@b@example.org>",
		"<a\xffb@example.org>",
		"<a\u2028b@example.org>",
		"<a\u2029b@example.org>",
		"<a\xc2\x85b@example.org>", // NEL
		"<a\u009fb@example.org>",
		"<-oQ/tmp/x@example.org>",
		"<a@-x.example.org>",
		"<a@example.-org>",
		"<" + strings.Repeat("a", 243) + "@example.org>",
		"<" + strings.Repeat("a ", 100<<10) + "@example.org>", // a folded 200 KB one, unfolded
	} {
		if got, err := Sender(in); err == nil {
			t.Errorf("Sender(%.60q) = %q, want an error", in, got)
		} else if strings.Contains(err.Error(), "\n") || len(err.Error()) > 200 {
			t.Errorf("Sender(%.60q): error not one short line: %.300q", in, err)
		}
	}
}

func TestCheckRecipient(t *testing.T) {
	for _, r := range []string{
		"mylist@lists.example.org",
		"mylist-bounces+alice=example.org@lists.example.org",
		"mylist-confirm+c0ffee@lists.example.org",
		"a.b@x",
	} {
		if err := CheckRecipient(r); err != nil {
			t.Errorf("CheckRecipient(%q) = %v", r, err)
		}
	}
	for _, r := range []string{
		"mylist@../../etc", "mylist@a/b", "mylist@a..b", "mylist@.a", "mylist@[1.2.3.4]",
		"mylist-bounces+../../x@lists.example.org", "mylist-bounces+a/b@lists.example.org",
		"mylist-bounces+a..b@x", "a\x00b@x", "a\rb@x", "a@x\n", "a b@x", "<a@x> SIZE=1",
		strings.Repeat("a", 250) + "@x.org", "", "noat",
		"b@-", "b@-x.org", "b@x.-org", "-b@x", "b+x\xffy@x", "b+x\u2028y@x",
		"b+x\u2029y@x", "b+x\xc2\x85y@x", "b+x\u0080y@x",
	} {
		if err := CheckRecipient(r); err == nil {
			t.Errorf("CheckRecipient(%q) = nil, want an error", r)
		}
	}
}
