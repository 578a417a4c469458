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
// reply per recipient: 2xx delivered, 5xx permanent, 4xx temporary. The
// claim stays locked for the transaction.
//
// At-least-once: the message is delivered again when the connection
// breaks, or mdsweep dies, after the server read the final "." and before
// we read its replies (the server may have queued it), or between those
// replies and the unlink of the claim reaching the disk (the next Commit).
type LMTP struct {
	Address string // host:port, or a unix socket path
	Log     *cli.Log
	Sync    fsx.DirSync
	Timeout time.Duration // per command and for the data; 5 minutes if 0

	conn   net.Conn
	client *smtp.Client
	hr     route.HeaderReader
	done   outcome
}

// HandOff implements Target.
func (t *LMTP) HandOff(c intake.Claim, dests []Dest) error {
	m, err := lockMessage(c, &t.hr)
	if m == nil {
		return err
	}
	defer m.file.Close()
	t.done.start(c.Path)
	var rcpts []string
	for _, d := range t.done.pending(dests) {
		// Nothing from a record reaches RCPT TO that could end the
		// address or add a parameter.
		if err := route.CheckRecipient(d.Recipient); err != nil {
			t.done.final[d.Recipient] = Permanent(err)
			continue
		}
		rcpts = append(rcpts, d.Recipient)
	}
	if len(rcpts) > 0 {
		if err := t.send(m, rcpts); err != nil {
			return err
		}
	}
	return t.done.finish(m, t.Log, &t.Sync)
}

// send runs one transaction for rcpts and records each final answer in
// t.done. It returns a temporary error when some recipient has none yet.
func (t *LMTP) send(m *locked, rcpts []string) error {
	fresh := t.client == nil
	if err := t.connect(); err != nil {
		return Temporary(err)
	}
	err := t.client.Mail(m.sender, nil)
	if err != nil && !fresh && brokenConn(err) {
		// The server closed the connection while it idled: nothing of
		// this message was sent, so a new connection is safe.
		t.drop()
		if err := t.connect(); err != nil {
			return Temporary(err)
		}
		err = t.client.Mail(m.sender, nil)
	}
	if err != nil {
		return t.refuseAll(rcpts, t.replyError("MAIL FROM", err))
	}
	var sent []string
	var temp error
	for _, r := range rcpts {
		err := t.client.Rcpt(r, nil)
		if err == nil {
			sent = append(sent, r)
			continue
		}
		e := t.replyError("RCPT TO:<"+r+">", err)
		if !IsTemporary(e) {
			t.done.final[r] = e
			continue
		}
		temp = e
		if t.client == nil {
			return temp
		}
	}
	if len(sent) == 0 {
		t.reset()
		return temp
	}
	w, err := t.client.Data()
	if err != nil {
		return t.refuseAll(sent, t.replyError("DATA", err))
	}
	t.conn.SetDeadline(time.Now().Add(t.timeout()))
	err = m.rewind()
	if err == nil {
		_, err = io.Copy(w, m.file)
	}
	if err != nil {
		// Without the final "." the server drops the transaction.
		t.drop()
		return Temporary(fmt.Errorf("DATA: %v", err))
	}
	took, err := w.CloseWithLMTPResponse()
	for r := range took {
		t.done.final[r] = nil
	}
	var replies smtp.LMTPDataError
	errors.As(err, &replies)
	for r, se := range replies {
		if e := t.replyError("DATA for <"+r+">", se); IsTemporary(e) {
			temp = e
		} else {
			t.done.final[r] = e
		}
	}
	if _, ok := err.(smtp.LMTPDataError); err != nil && !ok {
		// The connection broke before every reply was read: the
		// server may have taken the message for the others.
		t.drop()
		temp = Temporary(fmt.Errorf("DATA: %v", err))
	}
	return temp
}

// refuseAll records err as the final answer of every recipient when it is
// permanent, ends the transaction, and returns err when it is temporary.
func (t *LMTP) refuseAll(rcpts []string, err error) error {
	t.reset()
	if IsTemporary(err) {
		return err
	}
	for _, r := range rcpts {
		t.done.final[r] = err
	}
	return nil
}

func (t *LMTP) timeout() time.Duration {
	if t.Timeout <= 0 {
		return 5 * time.Minute
	}
	return t.Timeout
}

// connect opens the connection if none is open, and says LHLO.
func (t *LMTP) connect() error {
	if t.client != nil {
		return nil
	}
	network := "tcp"
	if strings.Contains(t.Address, "/") {
		network = "unix"
	}
	conn, err := net.DialTimeout(network, t.Address, 30*time.Second)
	if err != nil {
		return err
	}
	c := smtp.NewClientLMTP(conn)
	c.CommandTimeout, c.SubmissionTimeout = t.timeout(), t.timeout()
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if err := c.Hello(host); err != nil {
		c.Close()
		return err
	}
	t.conn, t.client = conn, c
	return nil
}

// brokenConn reports whether err says the connection is gone: no reply
// at all, or 421 (the server is closing it).
func brokenConn(err error) bool {
	var se *smtp.SMTPError
	return !errors.As(err, &se) || se.Code == 421
}

// replyError classifies a server reply: 5xx permanent, anything else
// temporary. A broken connection is dropped, to be opened again.
func (t *LMTP) replyError(what string, err error) error {
	if brokenConn(err) {
		t.drop()
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := fmt.Errorf("%s: %d %s", what, se.Code, se.Message)
		if se.Code >= 500 {
			return Permanent(e)
		}
		return Temporary(e)
	}
	return Temporary(fmt.Errorf("%s: %v", what, err))
}

// reset ends an unfinished transaction, so that the next MAIL FROM is not
// refused as nested.
func (t *LMTP) reset() {
	if t.client != nil && t.client.Reset() != nil {
		t.drop()
	}
}

func (t *LMTP) drop() {
	if t.client != nil {
		t.client.Close()
		t.conn, t.client = nil, nil
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
		t.drop()
	}
	return t.Commit()
}
