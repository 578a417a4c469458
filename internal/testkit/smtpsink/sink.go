// Package smtpsink is a small SMTP or LMTP server (go-smtp's) on a free
// loopback port that keeps every message it accepts. The live tests of
// list managers that send mail on (mlmmj's relayhost) look at what the
// list manager sent, to whom, from which envelope sender; the tests of
// mdsweep -l hand messages to it over LMTP, and make it refuse a
// recipient, answer late, or never answer.
package smtpsink

import (
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Mail is one message as the sink took it: one per recipient, so that a
// test can ask what each address got.
type Mail struct {
	From string // MAIL FROM, "" for the null sender
	To   string // one RCPT TO
	Data string // the message, LF line ends
}

// Header returns the value of the message's first header field called
// name (case-insensitive), unfolded; "" if none.
func (m Mail) Header(name string) string {
	head, _, _ := strings.Cut(m.Data, "\n\n")
	lines := strings.Split(head, "\n")
	for i, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		if !ok || !strings.EqualFold(k, name) {
			continue
		}
		for _, c := range lines[i+1:] {
			if c == "" || (c[0] != ' ' && c[0] != '\t') {
				break
			}
			v += " " + strings.TrimSpace(c)
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// Options shape the server. The zero value is an SMTP server that takes
// every message at once.
type Options struct {
	LMTP bool // speak LMTP (one answer per recipient after DATA)
	// Refuse, when set, is asked about each RCPT TO: a non-nil error
	// (an *smtp.SMTPError for a chosen code) refuses that recipient.
	Refuse func(rcpt string) error
	// Delay holds each answer after DATA that long; Hang holds it until
	// the test ends, as a server that took a message and never answers.
	Delay time.Duration
	Hang  bool
}

// Sink is a running server.
type Sink struct {
	Port int

	opts    Options
	hang    chan struct{} // closed when the test ends
	arrived chan struct{} // one per message read, before its answer

	mu   sync.Mutex
	mail []Mail
}

// Start starts an SMTP sink on 127.0.0.1 that takes everything, and
// stops it when the test ends.
func Start(t testing.TB) *Sink { return StartWith(t, Options{}) }

// StartWith starts a sink with the options on 127.0.0.1, and stops it
// when the test ends.
func StartWith(t testing.TB, o Options) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Sink{Port: ln.Addr().(*net.TCPAddr).Port, opts: o,
		hang: make(chan struct{}), arrived: make(chan struct{}, 64)}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.LMTP = o.LMTP
	srv.Domain = "sink.example.test"
	srv.MaxMessageBytes = 10 << 20
	go srv.Serve(ln)
	t.Cleanup(func() {
		close(s.hang) // first: a held answer must not keep Close waiting
		srv.Close()
	})
	return s
}

// Arrived receives once for each message the sink has read, before it
// answers: a test waits on it for a hand-off to be under way.
func (s *Sink) Arrived() <-chan struct{} { return s.arrived }

// Froms returns the MAIL FROM of each message taken, in order, one per
// recipient.
func (s *Sink) Froms() []string {
	var f []string
	for _, m := range s.Mail() {
		f = append(f, m.From)
	}
	return f
}

// Addr is the sink's host:port.
func (s *Sink) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// Mail returns a copy of everything the sink took, in order.
func (s *Sink) Mail() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mail...)
}

// To returns what the sink took for rcpt whose message contains substr.
func (s *Sink) To(rcpt, substr string) []Mail {
	var ms []Mail
	for _, m := range s.Mail() {
		if strings.EqualFold(m.To, rcpt) && strings.Contains(m.Data, substr) {
			ms = append(ms, m)
		}
	}
	return ms
}

type session struct {
	s     *Sink
	from  string
	rcpts []string
}

func (x *session) Reset()        { x.from, x.rcpts = "", nil }
func (x *session) Logout() error { return nil }

func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.s.opts.Refuse != nil {
		if err := x.s.opts.Refuse(to); err != nil {
			return err
		}
	}
	x.rcpts = append(x.rcpts, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	select {
	case x.s.arrived <- struct{}{}:
	default:
	}
	switch {
	case x.s.opts.Hang:
		<-x.s.hang
		return errors.New("the test ended before the sink answered")
	case x.s.opts.Delay > 0:
		select {
		case <-time.After(x.s.opts.Delay):
		case <-x.s.hang:
		}
	}
	data := strings.ReplaceAll(string(b), "\r\n", "\n")
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	for _, to := range x.rcpts {
		x.s.mail = append(x.s.mail, Mail{From: x.from, To: to, Data: data})
	}
	return nil
}
