package handoff

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mdpipe/internal/fault"

	"github.com/emersion/go-smtp"
)

// lmtpServer is a real LMTP server (go-smtp's) on 127.0.0.1 whose answer
// depends on the recipient's local part:
//
//	refuse       550 at RCPT          datarefuse   550 after DATA
//	tempfail     451 at RCPT          datatemp     451 after DATA
//	flaky        451 at the 1st RCPT, then 250
//	dataflaky    452 after the 1st DATA, then 250
//	drop         the 1st DATA: the connection closes mid-message
//	anything else: 250
type lmtpServer struct {
	addr string

	mu        sync.Mutex
	conns     []net.Conn     // accepted, server side
	traffic   bytes.Buffer   // everything the clients sent
	tries     map[string]int // RCPT or DATA attempts per recipient and stage
	delivered map[string]int // messages each recipient took
	senders   []string       // MAIL FROM of each delivery
	bodies    []string       // each message taken
}

// startLMTP starts the fake server on a free loopback port.
func startLMTP(t *testing.T) *lmtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return serveLMTP(t, ln)
}

// serveLMTP runs the fake server on ln until the test ends.
func serveLMTP(t *testing.T, ln net.Listener) *lmtpServer {
	s := &lmtpServer{addr: ln.Addr().String(), tries: map[string]int{}, delivered: map[string]int{}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &lmtpSession{s: s, conn: c}, nil
	}))
	srv.LMTP = true
	srv.Domain = "localhost"
	go srv.Serve(&tapListener{ln, s})
	t.Cleanup(func() { srv.Close() })
	return s
}

// dropConns closes every connection, as a server does to an idle client.
func (s *lmtpServer) dropConns() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// connections returns how many connections the server accepted.
func (s *lmtpServer) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// count returns how many lines the clients sent that start with cmd.
func (s *lmtpServer) count(cmd string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return bytes.Count(s.traffic.Bytes(), []byte("\r\n"+cmd)) +
		map[bool]int{true: 1}[bytes.HasPrefix(s.traffic.Bytes(), []byte(cmd))]
}

// got returns copies of what the server took, read under its lock.
func (s *lmtpServer) got() (delivered map[string]int, senders, bodies []string, traffic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delivered = make(map[string]int)
	for k, v := range s.delivered {
		delivered[k] = v
	}
	return delivered, append([]string(nil), s.senders...), append([]string(nil), s.bodies...), s.traffic.String()
}

func (s *lmtpServer) try(stage, rcpt string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries[stage+" "+rcpt]++
	return s.tries[stage+" "+rcpt]
}

type tapListener struct {
	net.Listener
	s *lmtpServer
}

func (l *tapListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.s.mu.Lock()
	l.s.conns = append(l.s.conns, c)
	l.s.mu.Unlock()
	return &tapConn{c, l.s}, nil
}

type tapConn struct {
	net.Conn
	s *lmtpServer
}

func (c *tapConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.s.mu.Lock()
	c.s.traffic.Write(p[:n])
	c.s.mu.Unlock()
	return n, err
}

type lmtpSession struct {
	s     *lmtpServer
	conn  *smtp.Conn
	from  string
	rcpts []string
}

func reply(code int, msg string) error {
	return &smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 0, 0}, Message: msg}
}

func localPart(rcpt string) string { l, _, _ := strings.Cut(rcpt, "@"); return l }

func (x *lmtpSession) Reset()        { x.rcpts = nil }
func (x *lmtpSession) Logout() error { return nil }
func (x *lmtpSession) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *lmtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	n := x.s.try("RCPT", to)
	switch localPart(to) {
	case "refuse":
		return reply(550, "no such list")
	case "tempfail":
		return reply(451, "try later")
	case "flaky":
		if n == 1 {
			return reply(451, "try later")
		}
	}
	x.rcpts = append(x.rcpts, to)
	return nil
}

func (x *lmtpSession) Data(io.Reader) error { return errors.New("LMTP only") }

func (x *lmtpSession) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	for _, rcpt := range x.rcpts {
		if localPart(rcpt) == "drop" && x.s.try("DATA", rcpt) == 1 {
			io.ReadFull(r, make([]byte, 10))
			x.conn.Conn().Close()
			return reply(421, "gone")
		}
	}
	body, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	for _, rcpt := range x.rcpts {
		var err error
		switch localPart(rcpt) {
		case "datarefuse":
			err = reply(550, "refused")
		case "datatemp":
			err = reply(451, "try later")
		case "dataflaky":
			if x.s.try("DATA", rcpt) == 1 {
				err = reply(452, "disk full")
			}
		}
		if err == nil {
			x.s.mu.Lock()
			x.s.delivered[rcpt]++
			x.s.senders = append(x.s.senders, x.from)
			// Back from the wire's CRLF to the file's LF.
			x.s.bodies = append(x.s.bodies, strings.ReplaceAll(string(body), "\r\n", "\n"))
			x.s.mu.Unlock()
		}
		status.SetStatus(rcpt, err)
	}
	return nil
}

func dests(locals ...string) []Dest {
	var ds []Dest
	for _, l := range locals {
		ds = append(ds, Dest{List: l, Subqueue: "post", Recipient: l + "@lists.example.test"})
	}
	return ds
}

func newLMTP(t *testing.T, addr string, log *bytes.Buffer) *LMTP {
	l := &LMTP{Address: addr, Log: testLog(log), Timeout: 10 * time.Second}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLMTPKeepsOneConnection(t *testing.T) {
	s := startLMTP(t)
	l := newLMTP(t, s.addr, new(bytes.Buffer))
	for i := 0; i < 3; i++ {
		c := newClaim(t, testMessage)
		if err := l.HandOff(context.Background(), c, dests("mylist")); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if present(c.Path) {
			t.Fatalf("message %d: claim kept", i)
		}
	}
	if n := s.connections(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
	if n := s.count("RSET"); n != 0 {
		t.Errorf("%d RSET, want none: a message costs no extra round trip", n)
	}
	delivered, senders, bodies, _ := s.got()
	if delivered["mylist@lists.example.test"] != 3 || senders[0] != "alice@example.org" || bodies[0] != testMessage {
		t.Errorf("delivered %v from %q: %q", delivered, senders, bodies)
	}
}

func TestLMTPNullSender(t *testing.T) {
	s := startLMTP(t)
	l := newLMTP(t, s.addr, new(bytes.Buffer))
	c := newClaim(t, strings.Replace(testMessage, "<alice@example.org>", "<>", 1))
	if err := l.HandOff(context.Background(), c, dests("mylist")); err != nil {
		t.Fatal(err)
	}
	if _, _, _, traffic := s.got(); !strings.Contains(traffic, "MAIL FROM:<>") {
		t.Errorf("no MAIL FROM:<> in %q", traffic)
	}
}

func TestLMTPReplies(t *testing.T) {
	for _, tc := range []struct {
		rcpts []string
		want  string
		log   string
	}{
		{[]string{"mylist"}, "delivered", ""},
		{[]string{"refuse"}, "permanent", ""},
		{[]string{"tempfail"}, "temporary", ""},
		{[]string{"datarefuse"}, "permanent", ""},
		{[]string{"datatemp"}, "temporary", ""},
		{[]string{"refuse", "datarefuse"}, "permanent", ""},
		// Refused by some, taken by others: not parked, logged.
		{[]string{"mylist", "refuse"}, "delivered", "some recipients only, not parked"},
		{[]string{"datarefuse", "mylist"}, "delivered", "DATA for <datarefuse@lists.example.test>: 550"},
		// Taken by some, a temporary failure for others: retried.
		{[]string{"mylist", "tempfail"}, "temporary", ""},
		{[]string{"mylist", "datatemp"}, "temporary", ""},
	} {
		t.Run(strings.Join(tc.rcpts, ","), func(t *testing.T) {
			s := startLMTP(t)
			var log bytes.Buffer
			l := newLMTP(t, s.addr, &log)
			c := newClaim(t, testMessage)
			err := l.HandOff(context.Background(), c, dests(tc.rcpts...))
			if got := outcomeOf(err); got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
			if kept := present(c.Path); kept != (tc.want != "delivered") {
				t.Errorf("claim kept: %v, after %s", kept, tc.want)
			}
			if !strings.Contains(log.String(), tc.log) {
				t.Errorf("log lacks %q:\n%s", tc.log, log.String())
			}
			// The connection is still good for the next message.
			if err := l.HandOff(context.Background(), newClaim(t, testMessage), dests("next")); err != nil {
				t.Errorf("next message: %v", err)
			}
			if n := s.connections(); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		})
	}
}

// A retry after a temporary failure goes only to the recipients that did
// not take the message yet.
func TestLMTPRetryOnlyTheRest(t *testing.T) {
	for _, flaky := range []string{"flaky", "dataflaky"} {
		t.Run(flaky, func(t *testing.T) {
			s := startLMTP(t)
			l := newLMTP(t, s.addr, new(bytes.Buffer))
			c := newClaim(t, testMessage)
			ds := dests("mylist", flaky, "mylist")
			if err := l.HandOff(context.Background(), c, ds); !fault.IsTemporary(err) || err == nil {
				t.Fatalf("first try: %v, want temporary", err)
			}
			if err := l.HandOff(context.Background(), c, ds); err != nil {
				t.Fatalf("retry: %v", err)
			}
			want := map[string]int{"mylist@lists.example.test": 1, flaky + "@lists.example.test": 1}
			if delivered, _, _, _ := s.got(); !mapsEqual(delivered, want) {
				t.Errorf("delivered %v, want %v", delivered, want)
			}
			if present(c.Path) {
				t.Error("claim kept")
			}
		})
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The server drops the connection in the middle of DATA: temporary, the
// claim stays, and the retry opens a new connection and delivers once.
func TestLMTPDropMidData(t *testing.T) {
	for name, body := range map[string]string{
		"small": testMessage,
		"1MiB":  testMessage + strings.Repeat("0123456789abcdef\n", 1<<16),
	} {
		t.Run(name, func(t *testing.T) {
			s := startLMTP(t)
			l := newLMTP(t, s.addr, new(bytes.Buffer))
			c := newClaim(t, body)
			err := l.HandOff(context.Background(), c, dests("drop"))
			t.Logf("first try: %v", err)
			if !fault.IsTemporary(err) || err == nil {
				t.Fatalf("got %v, want temporary", err)
			}
			if !present(c.Path) {
				t.Fatal("claim dropped after a broken DATA")
			}
			if err := l.HandOff(context.Background(), c, dests("drop")); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if present(c.Path) {
				t.Error("claim kept after the retry")
			}
			if n := s.connections(); n != 2 {
				t.Errorf("%d connections, want 2", n)
			}
			delivered, _, bodies, _ := s.got()
			if delivered["drop@lists.example.test"] != 1 || len(bodies) != 1 || bodies[0] != body {
				t.Errorf("delivered %v", delivered)
			}
		})
	}
}

// A kept connection that the server closed while it idled is opened again
// without a failure: nothing of the message had been sent.
func TestLMTPReconnectsAfterIdleClose(t *testing.T) {
	s := startLMTP(t)
	l := newLMTP(t, s.addr, new(bytes.Buffer))
	if err := l.HandOff(context.Background(), newClaim(t, testMessage), dests("mylist")); err != nil {
		t.Fatal(err)
	}
	s.dropConns()
	c := newClaim(t, testMessage)
	if err := l.HandOff(context.Background(), c, dests("mylist")); err != nil {
		t.Fatalf("after the server closed the connection: %v", err)
	}
	if n := s.connections(); n != 2 {
		t.Errorf("%d connections, want 2", n)
	}
	if delivered, _, _, _ := s.got(); delivered["mylist@lists.example.test"] != 2 {
		t.Errorf("delivered %v", delivered)
	}
}

func TestLMTPServerDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	l := newLMTP(t, addr, new(bytes.Buffer))
	c := newClaim(t, testMessage)
	if err := l.HandOff(context.Background(), c, dests("mylist")); !fault.IsTemporary(err) || err == nil {
		t.Fatalf("got %v, want temporary", err)
	}
	if !present(c.Path) {
		t.Error("claim dropped")
	}
}

func TestLMTPUnixSocket(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "lmtp.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := serveLMTP(t, ln)
	l := newLMTP(t, sock, new(bytes.Buffer))
	if err := l.HandOff(context.Background(), newClaim(t, testMessage), dests("mylist")); err != nil {
		t.Fatal(err)
	}
	if delivered, _, _, _ := s.got(); delivered["mylist@lists.example.test"] != 1 {
		t.Errorf("delivered %v", delivered)
	}
}
