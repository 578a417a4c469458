package handoff

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/route"

	"github.com/emersion/go-smtp"
)

// LMTP hands messages off to an LMTP server (Mailman 3's LMTP runner): one
// connection kept open across messages and opened again when it drops;
// per message MAIL FROM the sender, RCPT TO each recipient, DATA, and a
// reply per recipient: 2xx delivered, 5xx permanent, 4xx temporary.
//
// At-least-once: a crash (or a dropped connection) after the server
// accepted DATA and before the claim was dropped delivers it again.
type LMTP struct {
	Address string // host:port, or a unix socket path
	Log     *cli.Log
	Sync    fsx.DirSync
	Timeout time.Duration // per command; 5 minutes if 0

	client *smtp.Client
	hr     route.HeaderReader
	// accepted remembers, across retries of one message, the recipients
	// that took it already, so a retry after a 4xx sends only the rest.
	donePath string
	accepted map[string]bool
}

// HandOff implements Target.
func (t *LMTP) HandOff(c intake.Claim, dests []Dest) error {
	m, err := lockMessage(c, &t.hr)
	if m == nil {
		return err
	}
	defer m.file.Close()
	if t.donePath != c.Path {
		t.donePath, t.accepted = c.Path, make(map[string]bool)
	}
	var rcpts []string
	for _, d := range dests {
		if !t.accepted[d.Recipient] && !contains(rcpts, d.Recipient) {
			rcpts = append(rcpts, d.Recipient)
		}
	}
	if len(rcpts) > 0 {
		if err := t.send(m, rcpts); err != nil {
			return err
		}
	}
	t.donePath, t.accepted = "", nil
	return m.done(&t.Sync)
}

// send runs one transaction. It returns nil when every recipient took the
// message, or when some refused it permanently (logged) while the rest
// took it: parking it then would deliver to those twice on a retry.
func (t *LMTP) send(m *locked, rcpts []string) error {
	c, err := t.connect()
	if err != nil {
		return Temporary(err)
	}
	if err := c.Mail(m.sender, nil); err != nil {
		return t.replyError(err, "MAIL FROM")
	}
	var perm, temp error
	var sent []string
	for _, r := range rcpts {
		err := c.Rcpt(r, nil)
		if err == nil {
			sent = append(sent, r)
			continue
		}
		e := t.replyError(err, "RCPT TO:<"+r+">")
		if IsTemporary(e) {
			temp = e
		} else {
			perm = e
		}
		if !isReply(err) {
			return e
		}
	}
	if len(sent) == 0 {
		t.reset()
		if temp != nil {
			return temp
		}
		return perm
	}
	w, err := c.Data()
	if err != nil {
		return t.replyError(err, "DATA")
	}
	body, err := m.body()
	if err == nil {
		_, err = io.Copy(w, body)
	}
	if err != nil {
		t.drop()
		return Temporary(err)
	}
	_, err = w.CloseWithLMTPResponse()
	var lerr smtp.LMTPDataError
	switch {
	case err == nil:
	case errors.As(err, &lerr) && len(lerr) <= len(sent):
		for _, r := range sent {
			if se, failed := lerr[r]; failed {
				e := t.replyError(se, "DATA for <"+r+">")
				if IsTemporary(e) {
					temp = e
					continue
				}
				perm = e
			}
			t.accepted[r] = true
		}
		if err := errors.Unwrap(err); err != nil && !isReply(err) {
			t.drop()
		}
	default:
		t.drop()
		return Temporary(fmt.Errorf("DATA: %v", err))
	}
	for _, r := range sent {
		if lerr == nil {
			t.accepted[r] = true
		}
	}
	if temp != nil {
		return temp
	}
	if perm != nil {
		anyAccepted := false
		for _, r := range sent {
			anyAccepted = anyAccepted || lerr[r] == nil
		}
		if !anyAccepted && len(t.accepted) == 0 {
			return perm
		}
		t.Log.Path("refused by some recipients only; not parked", m.claim.Path, perm)
	}
	return nil
}

func (t *LMTP) connect() (*smtp.Client, error) {
	if t.client != nil {
		if err := t.client.Reset(); err == nil {
			return t.client, nil
		}
		t.drop()
	}
	network := "tcp"
	if strings.HasPrefix(t.Address, "/") || strings.HasPrefix(t.Address, ".") {
		network = "unix"
	}
	conn, err := net.DialTimeout(network, t.Address, 30*time.Second)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClientLMTP(conn)
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Minute
	}
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if err := c.Hello(host); err != nil {
		c.Close()
		return nil, err
	}
	t.client = c
	return c, nil
}

// replyError classifies a server reply; anything else (the connection
// broke) is temporary and drops the connection.
func (t *LMTP) replyError(err error, what string) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := fmt.Errorf("%s: %d %s", what, se.Code, se.Message)
		if se.Code >= 500 {
			return Permanent(e)
		}
		return Temporary(e)
	}
	t.drop()
	return Temporary(fmt.Errorf("%s: %v", what, err))
}

func isReply(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

func (t *LMTP) reset() {
	if t.client != nil && t.client.Reset() != nil {
		t.drop()
	}
}

func (t *LMTP) drop() {
	if t.client != nil {
		t.client.Close()
		t.client = nil
	}
}

// Commit implements Target.
func (t *LMTP) Commit() error {
	if err := t.Sync.Commit(); err != nil {
		return Temporary(err)
	}
	return nil
}

// Close implements Target: QUIT, then close.
func (t *LMTP) Close() error {
	if t.client != nil {
		t.client.Quit()
		t.client = nil
	}
	return t.Commit()
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
