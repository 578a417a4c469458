package smtpsink

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// lmtpSend sends one message from a@example.org to rcpts over LMTP, and
// returns the error of each RCPT TO and that of the end of DATA.
func lmtpSend(t *testing.T, s *Sink, rcpts ...string) (rcptErrs []error, dataErr error) {
	t.Helper()
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(conn)
	defer c.Close()
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range rcpts {
		rcptErrs = append(rcptErrs, c.Rcpt(r, nil))
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("Subject: x\r\n\r\nbody\r\n")); err != nil {
		t.Fatal(err)
	}
	return rcptErrs, w.Close()
}

func TestLMTPRefuse(t *testing.T) {
	s := StartWith(t, Options{LMTP: true, Refuse: func(rcpt string) error {
		if strings.HasPrefix(rcpt, "gone@") {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		}
		return nil
	}})
	errs, dataErr := lmtpSend(t, s, "gone@example.test", "here@example.test")
	var refused *smtp.SMTPError
	if !errors.As(errs[0], &refused) || refused.Code != 550 || errs[1] != nil {
		t.Errorf("RCPT TO answers %v, want 550 for gone@ and 250 for here@", errs)
	}
	if dataErr != nil {
		t.Errorf("DATA: %v", dataErr)
	}
	if m := s.Mail(); len(m) != 1 || m[0].To != "here@example.test" || m[0].From != "a@example.org" {
		t.Errorf("took %+v, want one message for here@example.test", m)
	}
}

func TestLMTPDelay(t *testing.T) {
	const delay = 300 * time.Millisecond
	s := StartWith(t, Options{LMTP: true, Delay: delay})
	start := time.Now()
	if _, err := lmtpSend(t, s, "here@example.test"); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < delay {
		t.Errorf("answered after %v, want at least %v", d, delay)
	}
	select {
	case <-s.Arrived():
	default:
		t.Error("Arrived did not hear of the message")
	}
}

func TestLMTPHang(t *testing.T) {
	s := StartWith(t, Options{LMTP: true, Hang: true})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := smtp.NewClientLMTP(conn)
	if err := c.Hello("client.example.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("a@example.org", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("here@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: x\r\n\r\nbody\r\n"))
	closed := make(chan error, 1)
	go func() { closed <- w.Close() }()
	<-s.Arrived()
	// The server has the whole message and must not answer: the end of
	// DATA is still waiting when a deadline well past a local round trip
	// passes.
	select {
	case err := <-closed:
		t.Fatalf("the hanging server answered: %v", err)
	case <-time.After(500 * time.Millisecond):
	}
	if m := s.Mail(); len(m) != 0 {
		t.Errorf("a hanging server kept %d messages, want none", len(m))
	}
}
