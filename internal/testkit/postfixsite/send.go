package postfixsite

import (
	"errors"
	"fmt"
	"net/smtp"
	"net/textproto"
	"strings"
	"testing"
	"time"
)

// Message is one SMTP transaction. Every message carries a unique
// X-Test-Id and Message-ID <ID@test.example.org>, which is how a test
// finds it again after the pipeline.
type Message struct {
	ID      string
	From    string // "" is the null sender
	Rcpts   []string
	Header  string // extra header lines, LF-terminated, placed on top
	Refused []bool // per rcpt (or nil): Postfix must refuse it with a 5xx
}

// MessageID is the Message-ID the message with this ID carries.
func MessageID(id string) string { return "<" + id + "@test.example.org>" }

// Send sends ms over one SMTP session to the instance.
func (p *Instance) Send(t testing.TB, ms []Message) {
	t.Helper()
	SendTo(t, p.Addr, ms)
}

// SendTo sends ms over one SMTP session to the MTA at addr (host:port):
// the tests of the other MTAs' recipes send the same way.
func SendTo(t testing.TB, addr string, ms []Message) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := c.Mail(m.From); err != nil {
			t.Fatalf("%s: MAIL FROM:<%s>: %v", m.ID, m.From, err)
		}
		for i, r := range m.Rcpts {
			err := c.Rcpt(r)
			refused := i < len(m.Refused) && m.Refused[i]
			var reply *textproto.Error
			switch {
			case refused && (!errors.As(err, &reply) || reply.Code/100 != 5):
				t.Fatalf("%s: RCPT TO:<%s>: %v, want a 5xx refusal", m.ID, r, err)
			case !refused && err != nil:
				t.Fatalf("%s: RCPT TO:<%s>: %v", m.ID, r, err)
			}
		}
		w, err := c.Data()
		if err != nil {
			t.Fatalf("%s: DATA: %v", m.ID, err)
		}
		// The DATA writer turns LF into CRLF and dot-stuffs.
		if _, err := w.Write(m.Bytes()); err != nil {
			t.Fatalf("%s: %v", m.ID, err)
		}
		if err := w.Close(); err != nil {
			t.Fatalf("%s: end of DATA: %v", m.ID, err)
		}
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// Bytes is the message as sent, LF-terminated.
func (m Message) Bytes() []byte {
	from := m.From
	if from == "" {
		from = "MAILER-DAEMON@example.org"
	}
	subject := "Subject: test " + m.ID + "\n"
	if strings.Contains(m.Header, "Subject:") {
		subject = ""
	}
	return fmt.Appendf(nil, "%sFrom: Test <%s>\nTo: %s\n%sDate: %s\nMessage-ID: %s\nX-Test-Id: %s\n\nbody of %s\n",
		m.Header, from, strings.Join(m.Rcpts, ", "), subject,
		time.Now().Format(time.RFC1123Z), MessageID(m.ID), m.ID, m.ID)
}
