// Package smtpsink is a small SMTP server (go-smtp's) on a free loopback
// port that accepts every message and keeps it, for the live tests of
// list managers that send mail on (mlmmj's relayhost): the test looks at
// what the list manager sent, to whom, from which envelope sender.
package smtpsink

import (
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"

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

// Sink is a running SMTP server.
type Sink struct {
	Port int

	mu   sync.Mutex
	mail []Mail
}

// Start starts a sink on 127.0.0.1 and stops it when the test ends.
func Start(t testing.TB) *Sink {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &Sink{Port: ln.Addr().(*net.TCPAddr).Port}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		return &session{s: s}, nil
	}))
	srv.Domain = "sink.example.test"
	srv.MaxMessageBytes = 10 << 20
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
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
	x.rcpts = append(x.rcpts, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	data := strings.ReplaceAll(string(b), "\r\n", "\n")
	x.s.mu.Lock()
	defer x.s.mu.Unlock()
	for _, to := range x.rcpts {
		x.s.mail = append(x.s.mail, Mail{From: x.from, To: to, Data: data})
	}
	return nil
}
