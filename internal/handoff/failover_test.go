package handoff

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Several LMTP addresses (mdsweep -l a,b): tried in order; the next is used
// when one refuses the connection or answers 421.

func TestLMTPFirstAddressDown(t *testing.T) {
	ok := startRaw(t, "tcp", "127.0.0.1:0", "ok")
	l := newLMTP(t, downAddr(t)+","+ok.addr, new(bytes.Buffer))
	for i := 0; i < 2; i++ {
		c := newClaim(t, testMessage)
		if err := l.HandOff(context.Background(), c, dests("mylist")); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if present(c.Path) {
			t.Errorf("message %d: claim kept", i)
		}
	}
	if n, a := ok.tookCount(), ok.accepted(); n != 2 || a != 1 {
		t.Errorf("second server took %d messages over %d connections, want 2 over 1 (one kept connection)", n, a)
	}
}

func TestLMTPFirstAddress421(t *testing.T) {
	busy := startRaw(t, "tcp", "127.0.0.1:0", "421")
	ok := startRaw(t, "tcp", "127.0.0.1:0", "ok")
	l := newLMTP(t, busy.addr+", "+ok.addr, new(bytes.Buffer))
	c := newClaim(t, testMessage)
	if err := l.HandOff(context.Background(), c, dests("mylist")); err != nil {
		t.Fatal(err)
	}
	if busy.accepted() != 1 || ok.tookCount() != 1 {
		t.Errorf("busy server: %d connections; second took %d; want 1 and 1", busy.accepted(), ok.tookCount())
	}
}

// A fresh connection whose MAIL FROM gets 421 goes on to the next
// address: nothing of the message was sent.
func TestLMTPMail421GoesOn(t *testing.T) {
	busy := startRaw(t, "tcp", "127.0.0.1:0", "mail421")
	ok := startRaw(t, "tcp", "127.0.0.1:0", "ok")
	l := newLMTP(t, busy.addr+","+ok.addr, new(bytes.Buffer))
	if err := l.HandOff(context.Background(), newClaim(t, testMessage), dests("mylist")); err != nil {
		t.Fatal(err)
	}
	if busy.accepted() != 1 || ok.tookCount() != 1 {
		t.Errorf("busy: %d connections; second took %d; want 1 and 1", busy.accepted(), ok.tookCount())
	}
}

// A 5xx for a recipient is final: the next server is not asked.
func TestLMTPRefusalIsFinal(t *testing.T) {
	first := startLMTP(t)
	ok := startRaw(t, "tcp", "127.0.0.1:0", "ok")
	l := newLMTP(t, first.addr+","+ok.addr, new(bytes.Buffer))
	c := newClaim(t, testMessage)
	if err := l.HandOff(context.Background(), c, dests("refuse")); outcomeOf(err) != "permanent" {
		t.Fatalf("got %v, want permanent", err)
	}
	if ok.accepted() != 0 {
		t.Error("the second server was asked after a 5xx")
	}
}

// All down: the message is deferred with every server's error, and the
// next message waits for the servers' back-off without a try.
func TestLMTPAllAddressesDown(t *testing.T) {
	busy := startRaw(t, "tcp", "127.0.0.1:0", "421")
	var log bytes.Buffer
	l := newLMTP(t, downAddr(t)+","+busy.addr+","+filepath.Join(t.TempDir(), "no.sock"), &log)
	sw := newSweeper(l, &log)
	c := newClaim(t, testMessage)
	if err := sw.Sweep(context.Background(), c, dests("mylist")); !errors.Is(err, ErrDeferred) {
		t.Fatalf("got %v, want ErrDeferred", err)
	}
	if !present(c.DeferPath()) || present(c.Path) {
		t.Error("message not deferred")
	}
	for _, want := range []string{"deferred until", "connection refused", "421", "no.sock"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	asked := busy.accepted()
	other := newClaim(t, testMessage)
	if err := sw.Sweep(context.Background(), other, dests("otherlist")); !errors.Is(err, ErrDeferred) {
		t.Fatalf("second message: got %v, want ErrDeferred", err)
	}
	if busy.accepted() != asked {
		t.Errorf("the servers were asked again within their back-off, for another recipient")
	}
}

// After FailBack, between messages, the first address is tried again.
func TestLMTPFailsBack(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "first.sock")
	second := startRaw(t, "tcp", "127.0.0.1:0", "ok")
	l := newLMTP(t, sock+","+second.addr, new(bytes.Buffer))
	l.FailBack = time.Nanosecond
	if err := l.HandOff(context.Background(), newClaim(t, testMessage), dests("mylist")); err != nil {
		t.Fatal(err)
	}
	first := startRaw(t, "unix", sock, "ok")
	if err := l.HandOff(context.Background(), newClaim(t, testMessage), dests("mylist")); err != nil {
		t.Fatal(err)
	}
	if first.tookCount() != 1 || second.tookCount() != 1 {
		t.Errorf("first took %d, second %d; want 1 each", first.tookCount(), second.tookCount())
	}
	// On the first address, the connection is kept.
	if err := l.HandOff(context.Background(), newClaim(t, testMessage), dests("mylist")); err != nil {
		t.Fatal(err)
	}
	if first.tookCount() != 2 || first.accepted() != 1 {
		t.Errorf("first took %d over %d connections, want 2 over 1", first.tookCount(), first.accepted())
	}
}

// A server that accepts and never greets times out; the next is used.
func TestLMTPFirstAddressSilent(t *testing.T) {
	silent := startRaw(t, "tcp", "127.0.0.1:0", "silent")
	ok := startRaw(t, "tcp", "127.0.0.1:0", "ok")
	var log bytes.Buffer
	l := newLMTP(t, silent.addr+","+ok.addr, &log)
	l.Connect = 200 * time.Millisecond
	if err := l.HandOff(context.Background(), newClaim(t, testMessage), dests("mylist")); err != nil {
		t.Fatal(err)
	}
	if silent.accepted() != 1 || ok.tookCount() != 1 {
		t.Errorf("silent: %d connections; second took %d; want 1 and 1", silent.accepted(), ok.tookCount())
	}
}
