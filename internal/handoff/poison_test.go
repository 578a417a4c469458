package handoff

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// poisonSenders are Return-Path values no hand-off can carry as they are:
// each is a permanent failure, whatever the target, and nothing runs or
// is sent.
var poisonSenders = map[string]string{
	"nul":       "<a\x00b@example.org>",
	"cr":        "<a\rb@example.org>",
	"parameter": "<a@example.org> SIZE=1",
	"folded":    "<a\n\t" + strings.Repeat("x\n\t", 60<<10) + "@example.org>",  // 180 KB
	"endless":   "<a\n\t" + strings.Repeat("x\n\t", 100<<10) + "@example.org>", // past MaxHeader
}

func poisonClaim(rp string) string {
	return strings.Replace(testMessage, "<alice@example.org>", rp, 1)
}

func TestCommandPoisonSender(t *testing.T) {
	for name, rp := range poisonSenders {
		t.Run(name, func(t *testing.T) {
			c := newClaim(t, poisonClaim(rp))
			dir := t.TempDir()
			t.Setenv("OUT", dir)
			cmd := &Command{Command: `touch "$OUT/ran"`, Timeout: time.Minute, Log: testLog(new(bytes.Buffer))}
			err := cmd.HandOff(context.Background(), c, []Dest{post})
			if outcomeOf(err) != "permanent" || !strings.Contains(err.Error(), "sender") {
				t.Fatalf("got %v, want a permanent refusal of the sender", err)
			}
			if present(filepath.Join(dir, "ran")) {
				t.Error("the command ran")
			}
			if !present(c.Path) {
				t.Error("the claim is gone; mdfail parks it")
			}
		})
	}
}

func TestLMTPPoisonSender(t *testing.T) {
	s := startLMTP(t)
	l := newLMTP(t, s.addr, new(bytes.Buffer))
	for name, rp := range poisonSenders {
		c := newClaim(t, poisonClaim(rp))
		if err := l.HandOff(context.Background(), c, dests("mylist")); outcomeOf(err) != "permanent" {
			t.Errorf("%s: got %v, want permanent", name, err)
		}
	}
	// The connection is still good for the next message.
	c := newClaim(t, testMessage)
	if err := l.HandOff(context.Background(), c, dests("mylist")); err != nil {
		t.Fatal(err)
	}
	if n := s.count("MAIL FROM"); n != 1 {
		t.Errorf("%d MAIL FROM, want one, of the good message", n)
	}
}

// HOST, DETAIL and RECIPIENT never carry "/", ".." or a control
// character into a command's environment: such a recipient is refused.
func TestCommandUnsafeRecipient(t *testing.T) {
	for _, rcpt := range []string{
		"mylist-bounces+../../etc=x@lists.example.test",
		"mylist-bounces+a/b@lists.example.test",
		"mylist@../../etc",
		"mylist@lists..example.test",
		"mylist@lists.example.test\n",
		"mylist@lists.example.test> SIZE=1",
	} {
		c := newClaim(t, testMessage)
		dir := t.TempDir()
		t.Setenv("OUT", dir)
		cmd := &Command{Command: `touch "$OUT/ran"`, Timeout: time.Minute, Log: testLog(new(bytes.Buffer))}
		err := cmd.HandOff(context.Background(), c, []Dest{{List: "mylist", Subqueue: "bounces", Recipient: rcpt}})
		if outcomeOf(err) != "permanent" {
			t.Errorf("%q: got %v, want permanent", rcpt, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
			t.Errorf("%q: the command ran", rcpt)
		}
	}
}

func TestLMTPUnsafeRecipient(t *testing.T) {
	s := startLMTP(t)
	l := newLMTP(t, s.addr, new(bytes.Buffer))
	c := newClaim(t, testMessage)
	bad := Dest{List: "mylist", Subqueue: "post", Recipient: "mylist@x.test> NOTIFY=NEVER"}
	if err := l.HandOff(context.Background(), c, []Dest{bad}); outcomeOf(err) != "permanent" {
		t.Fatalf("got %v, want permanent", err)
	}
	if n := s.count("RCPT"); n != 0 {
		t.Errorf("%d RCPT TO sent, want none", n)
	}
}
