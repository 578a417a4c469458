package route

import (
	"strings"
	"testing"

	"mdpipe/internal/envelope"

	"github.com/google/go-cmp/cmp"
)

// Deliveries in the formats of MTAs and MDAs this machine does not run,
// built from what their documentation and source say they prepend. Only
// the topmost envelope field may count: each message also carries the
// older headers a forwarding hop left, which would route elsewhere.

// formatBody is the message as it arrived over SMTP (below the Received
// line the receiving MTA added), with an earlier hop's envelope headers.
const formatBody = "Delivered-To: other@elsewhere.test\n" +
	"X-Original-To: other@elsewhere.test\n" +
	"From: Sender <sender@example.org>\n" +
	"Subject: test\n" +
	"\n" +
	"body\n"

// OpenSMTPD (mda.c, 5.x and 6.x) writes "Return-Path: <sender>" (5.x:
// without the angle brackets) and "Delivered-To: RCPT" above the message,
// and no Return-Path at all for the null sender. The address is the RCPT
// TO as received (e->rcpt), +tag kept, before any alias expansion.
func openSMTPD(sender, rcpt string) string {
	s := ""
	if sender != "" {
		s = "Return-Path: <" + sender + ">\n"
	}
	return s + "Delivered-To: " + rcpt + "\n" +
		"Received: from client.example.org (localhost [127.0.0.1])\n" +
		"\tby mx.example.test (OpenSMTPD) with ESMTP id 1a2b3c4d\n" +
		"\tfor <" + rcpt + ">;\n\tSat, 28 Nov 2026 19:24:58 +0000 (UTC)\n" + formatBody
}

// qmail-local(8) writes RPLINE "Return-Path: <sender>" ("<>" for the null
// sender) then DTLINE "Delivered-To: " and the local address, which for a
// virtualdomains entry "lists.example.test:mailman" is the recipient with
// "mailman-" before its local part. qmail-smtpd's Received lines follow.
func qmail(sender, dtline string) string {
	return "Return-Path: <" + sender + ">\n" +
		"Delivered-To: " + dtline + "\n" +
		"Received: (qmail 4711 invoked from network); 28 Nov 2026 19:24:58 -0000\n" +
		"Received: from localhost (HELO client.example.org) (127.0.0.1)\n" +
		"  by mx.example.test with SMTP; 28 Nov 2026 19:24:58 -0000\n" + formatBody
}

// Courier: courierdeliver sets UFLINE (an mbox From_ line), RPLINE
// (Return-Path) and DTLINE (Delivered-To) for every local delivery;
// preline(1) writes the three in that order above the message for a
// program that does not read them itself, such as a maildir deliverer run
// from .courier. Its local module treats a virtualdomains entry as qmail
// does ("prepends 'user-' to the local part"), so the -p recipe of qmail
// applies; -p strips only when the prefix is there, so a Delivered-To
// without it routes the same.
func courierPreline(sender, dtline string) string {
	return "From " + sender + " Sat Nov 28 19:24:58 2026\n" +
		"Return-Path: <" + sender + ">\n" +
		"Delivered-To: " + dtline + "\n" +
		"Received: from client.example.org (localhost [127.0.0.1])\n" +
		"  by mx.example.test with ESMTP; Sat, 28 Nov 2026 19:24:58 +0000\n" + formatBody
}

// getmail (getmailcore/message.py, Message.flatten) writes "Return-Path:
// <sender>", then, with delivered_to = true (its default), "Delivered-To:"
// and the envelope recipient, then its own Received line, all above the
// message as the POP3/IMAP server held it. It adds no X-Original-To. The
// recipient is known only to a multidrop retriever (envelope_recipient =
// x-original-to:1, say); any other retriever writes "Delivered-To:
// unknown", which sits on top and so makes every message unroutable. The
// server's own copy still carries its MTA's envelope headers (here
// Postfix's), below getmail's.
func getmail(rcpt string) string {
	return "Return-Path: <sender@example.org>\n" +
		"Delivered-To: " + rcpt + "\n" +
		"Received: from pop.isp.example.net (pop.isp.example.net [192.0.2.1])\n" +
		"\tby client.example.org with POP3 getmail6 for <" + rcpt + ">; 28 Nov 2026 19:25:30 -0000\n" +
		"X-Original-To: catchall@isp.example.net\n" +
		"Delivered-To: catchall@isp.example.net\n" +
		"Received: from mx.example.org by mx.isp.example.net (Postfix) with ESMTP id 29DFEB80D4\n" +
		"\tfor <catchall@isp.example.net>; Sat, 28 Nov 2026 19:24:58 +0000 (UTC)\n" + formatBody
}

func TestRouteMTAFormats(t *testing.T) {
	plain := &Router{}
	qmailRouter := &Router{Prefix: "mailman-", Domains: []string{"lists.example.test"}}
	one := func(list, sub, rcpt string) []Route {
		return []Route{{List: list, Subqueue: sub, Recipient: rcpt}}
	}
	tests := []struct {
		name    string
		msg     string
		rt      *Router
		want    []Route
		wantErr string // part of the reason, for an unroutable message
	}{
		{"opensmtpd/post", openSMTPD("sender@example.org", "mylist@lists.example.test"), plain,
			one("mylist", "post", "mylist@lists.example.test"), ""},
		{"opensmtpd/null-sender-verp", openSMTPD("", "mylist-bounces+alice=example.org@lists.example.test"), plain,
			one("mylist", "bounces", "mylist-bounces+alice=example.org@lists.example.test"), ""},
		{"opensmtpd/mixed-case-dash-list", openSMTPD("sender@example.org", "Foo-Bar-Request@Lists.Example.TEST"), plain,
			one("foo-bar", "request", "foo-bar-request@lists.example.test"), ""},

		{"qmail/request", qmail("sender@example.org", "mailman-mylist-request@lists.example.test"), qmailRouter,
			one("mylist", "request", "mylist-request@lists.example.test"), ""},
		{"qmail/null-sender-verp", qmail("", "mailman-mylist-bounces+alice=example.org@lists.example.test"), qmailRouter,
			one("mylist", "bounces", "mylist-bounces+alice=example.org@lists.example.test"), ""},
		{"qmail/confirm-cookie", qmail("sender@example.org", "mailman-mylist-confirm+0123456789abcdef@lists.example.test"), qmailRouter,
			one("mylist", "confirm", "mylist-confirm+0123456789abcdef@lists.example.test"), ""},
		// The prefix is stripped once: a list named mailman-users is
		// delivered as mailman-mailman-users.
		{"qmail/list-named-like-prefix", qmail("sender@example.org", "mailman-mailman-users@lists.example.test"), qmailRouter,
			one("mailman-users", "post", "mailman-users@lists.example.test"), ""},
		// Without -p the prefix stays part of the list name: a wrong list,
		// which -l would catch as unknown.
		{"qmail/without-p", qmail("sender@example.org", "mailman-mylist@lists.example.test"), plain,
			one("mailman-mylist", "post", "mailman-mylist@lists.example.test"), ""},

		{"courier/preline-prefixed", courierPreline("sender@example.org", "mailman-mylist-owner@lists.example.test"), qmailRouter,
			one("mylist", "owner", "mylist-owner@lists.example.test"), ""},
		{"courier/preline-as-sent", courierPreline("sender@example.org", "mylist-unsubscribe@lists.example.test"), qmailRouter,
			one("mylist", "leave", "mylist-unsubscribe@lists.example.test"), ""},

		{"getmail/multidrop", getmail("mylist-join@lists.example.test"), plain,
			one("mylist", "join", "mylist-join@lists.example.test"), ""},
		{"getmail/single-drop-unknown", getmail("unknown"), plain,
			nil, envelope.ErrNoAt.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := routeMessage(tt.msg, tt.rt)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, %v; want unroutable: %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("routes (-want +got):\n%s", diff)
			}
		})
	}
}

// routeMessage routes msg as mdroute does with its default -H: the
// topmost envelope field, each address in it.
func routeMessage(msg string, rt *Router) ([]Route, error) {
	var hr envelope.HeaderReader
	hdr, err := hr.Read(strings.NewReader(msg))
	if err != nil {
		return nil, err
	}
	_, value, ok := envelope.Field(hdr, DefaultHeaders)
	if !ok {
		return nil, envelope.ErrEmptyAddress
	}
	var routes []Route
	for _, a := range envelope.Addresses(value) {
		r, err := rt.Route(a)
		if err != nil {
			return routes, err
		}
		routes = append(routes, r)
	}
	return routes, nil
}
