package handoff

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"mdpipe/internal/envelope"
	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/logline"

	"github.com/emersion/go-smtp"
)

// LMTP hands messages off to an LMTP server (Mailman 3's LMTP runner): one
// connection kept open across messages and opened again when it drops;
// per message MAIL FROM the sender, RCPT TO each recipient, DATA, and a
// reply per recipient: 2xx delivered, 5xx permanent, 4xx temporary. The
// claim stays locked for the transaction.
//
// Address may list several servers, comma-separated, tried in order: the
// next is used when one refuses the connection, does not answer its
// greeting and LHLO within ConnectTimeout, or answers 421 before a
// message was sent. A connection to any but the first is closed between
// messages once it is FailBack old, so that a recovered first server is
// used again.
//
// At-least-once: the message is delivered again when the connection
// breaks, or mdsweep dies or is stopped, after the server read the final
// "." and before we read its replies (the server may have queued it), or
// between those replies and the unlink of the claim reaching the disk
// (the next Commit).
type LMTP struct {
	Address string // host:port or a unix socket path; several, comma-separated
	Log     *logline.Log
	Sync    fsx.DirSync
	Timeout time.Duration // per command and for the data; 5 minutes if 0
	// FailBack is how long a connection to a later address is kept
	// before the first is tried again; DefaultFailBack if 0.
	FailBack time.Duration
	// Connect bounds the connect, greeting and LHLO of one address;
	// ConnectTimeout if 0.
	Connect time.Duration

	client *smtp.Client
	cur    int       // index in addrs of the open connection
	opened time.Time // when it was opened
	hr     envelope.HeaderReader
	done   outcome

	// mu guards conn against abandon, which closes it from another
	// goroutine when the hand-off's context is cancelled.
	mu   sync.Mutex
	conn net.Conn
}

// Connection timing.
const (
	// ConnectTimeout bounds the connect, and the greeting and LHLO
	// replies, of one address.
	ConnectTimeout = 30 * time.Second
	// DefaultFailBack is FailBack's default.
	DefaultFailBack = 5 * time.Minute
	// quitTimeout bounds QUIT at exit: a server that does not answer
	// does not hold a stop.
	quitTimeout = 2 * time.Second
)

// HandOff implements Target. Once ctx is cancelled, the connection of
// the hand-off is closed, whatever it waits for fails at once, and the
// message stays claimed.
func (t *LMTP) HandOff(ctx context.Context, c intake.Claim, dests []Dest) error {
	m, err := lockMessage(c, &t.hr)
	if m == nil {
		return err
	}
	defer m.file.Close()
	defer context.AfterFunc(ctx, t.abandon)()
	t.done.start(c.Path)
	var rcpts []string
	for _, d := range t.done.pending(dests) {
		// Nothing from a record reaches RCPT TO that could end the
		// address or add a parameter.
		if err := envelope.CheckRecipient(d.Recipient); err != nil {
			t.done.final[d.Recipient] = fault.Permanent(err)
			continue
		}
		rcpts = append(rcpts, d.Recipient)
	}
	if len(rcpts) > 0 {
		if err := t.send(ctx, m, rcpts); err != nil {
			return err
		}
	}
	return t.done.finish(m, t.Log, &t.Sync)
}

// send runs one transaction for rcpts and records each final answer in
// t.done. It returns a temporary error when some recipient has none yet.
func (t *LMTP) send(ctx context.Context, m *locked, rcpts []string) error {
	fresh := t.client == nil
	if err := t.connect(ctx); err != nil {
		return fault.Temporary(&unreachable{err})
	}
	err := t.client.Mail(m.sender, nil)
	if err != nil && brokenConn(err) && ctx.Err() == nil {
		// Nothing of this message was sent, so a new connection is
		// safe: the server closed the connection while it idled (try
		// again from the first address), or a fresh one answered 421
		// (go on to the next).
		from := 0
		if fresh {
			from = t.cur + 1
		}
		t.drop()
		if err := t.connectFrom(ctx, from); err != nil {
			return fault.Temporary(&unreachable{err})
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
		if !fault.IsTemporary(e) {
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
		return fault.Temporary(fmt.Errorf("DATA: %v", err))
	}
	took, err := w.CloseWithLMTPResponse()
	for r := range took {
		t.done.final[r] = nil
	}
	var replies smtp.LMTPDataError
	errors.As(err, &replies)
	for r, se := range replies {
		if e := t.replyError("DATA for <"+r+">", se); fault.IsTemporary(e) {
			temp = e
		} else {
			t.done.final[r] = e
		}
	}
	if _, ok := err.(smtp.LMTPDataError); err != nil && !ok {
		// The connection broke before every reply was read: the
		// server may have taken the message for the others.
		t.drop()
		temp = fault.Temporary(fmt.Errorf("DATA: %v", err))
	}
	return temp
}

// refuseAll records err as the final answer of every recipient when it is
// permanent, ends the transaction, and returns err when it is temporary.
func (t *LMTP) refuseAll(rcpts []string, err error) error {
	t.reset()
	if fault.IsTemporary(err) {
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

// connect opens a connection if none is open, trying the addresses in
// order. A connection to a later address that is FailBack old is closed
// first (between messages), so the first is tried again.
func (t *LMTP) connect(ctx context.Context) error {
	if t.client != nil && t.cur > 0 && time.Since(t.opened) >= t.failBack() {
		t.quit()
	}
	if t.client != nil {
		return nil
	}
	return t.connectFrom(ctx, 0)
}

// connectFrom opens a connection to the first of the addresses from index
// from on that takes it and says LHLO.
func (t *LMTP) connectFrom(ctx context.Context, from int) error {
	addrs := envelope.Addresses(t.Address)
	var errs []string
	for i := from; i < len(addrs); i++ {
		if ctx.Err() != nil {
			return errStopping
		}
		err := t.dial(ctx, addrs[i])
		if err == nil {
			t.cur, t.opened = i, time.Now()
			return nil
		}
		errs = append(errs, err.Error())
	}
	if len(errs) == 0 {
		return fmt.Errorf("LMTP: no address left to try after %d", from)
	}
	return errors.New(strings.Join(errs, "; "))
}

// dial connects to one address and says LHLO, each within the connect
// timeout.
// A 421 greeting or LHLO reply is an error like a refused connection.
func (t *LMTP) dial(ctx context.Context, addr string) error {
	network := "tcp"
	if strings.Contains(addr, "/") {
		network = "unix"
	}
	limit := t.Connect
	if limit <= 0 {
		limit = ConnectTimeout
	}
	d := net.Dialer{Timeout: limit}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	c := smtp.NewClientLMTP(conn)
	c.CommandTimeout, c.SubmissionTimeout = min(limit, t.timeout()), t.timeout()
	t.mu.Lock()
	t.conn = conn
	t.mu.Unlock()
	if ctx.Err() != nil {
		conn.Close() // a stop came before conn was there to close
	}
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	if err := c.Hello(host); err != nil {
		c.Close()
		t.mu.Lock()
		t.conn = nil
		t.mu.Unlock()
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			return fmt.Errorf("%s: %d %s", addr, se.Code, se.Message)
		}
		if strings.Contains(err.Error(), addr) {
			return err
		}
		return fmt.Errorf("%s: %v", addr, err)
	}
	c.CommandTimeout = t.timeout()
	t.client = c
	return nil
}

func (t *LMTP) failBack() time.Duration {
	if t.FailBack <= 0 {
		return DefaultFailBack
	}
	return t.FailBack
}

// abandon closes the connection of the hand-off in hand, from the
// goroutine of its cancelled context: whatever the main one waits for
// fails at once.
func (t *LMTP) abandon() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		t.conn.Close()
	}
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
			return fault.Permanent(e)
		}
		return fault.Temporary(e)
	}
	return fault.Temporary(fmt.Errorf("%s: %v", what, err))
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
		t.client = nil
		t.mu.Lock()
		t.conn = nil
		t.mu.Unlock()
	}
}

// quit says QUIT, waiting at most quitTimeout for the reply, and closes.
func (t *LMTP) quit() {
	if t.client != nil {
		t.client.CommandTimeout = quitTimeout
		t.client.Quit()
		t.drop()
	}
}

// Commit implements Target.
func (t *LMTP) Commit() error {
	if err := t.Sync.Commit(); err != nil {
		return fault.Temporary(err)
	}
	return nil
}

// Took implements Target.
func (t *LMTP) Took(c intake.Claim, dests []Dest) []Dest { return t.done.took(c.Path, dests) }

// unreachable says no server of the address list could be reached: every
// destination on them fails alike, not only this message's.
type unreachable struct{ error }

func (u *unreachable) Unwrap() error { return u.error }

// IsUnreachable reports whether err says the LMTP servers could not be
// reached at all.
func IsUnreachable(err error) bool {
	var u *unreachable
	return errors.As(err, &u)
}

// Close implements Target: QUIT, then close.
func (t *LMTP) Close() error {
	t.quit()
	return t.Commit()
}
