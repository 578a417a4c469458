package powerloss

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// A list manager's store, for the command and LMTP hand-offs: on another
// machine, or at least another disk, so a cut of mdpipe's disks does not
// reach it. What it took, it keeps; the oracle asks how often it took
// each message, and in which epoch (0: before the cut, 1: the recovery).

// delivery is one message a store took, for one recipient.
type delivery struct {
	epoch int
	rcpt  string
	data  string
}

// lmtpStore is an LMTP server (go-smtp's) on a free loopback port.
type lmtpStore struct {
	addr string

	mu    sync.Mutex
	epoch int
	power *power // the trial's, for the "delivered" cut point
	got   []delivery
}

// startLMTP starts a store; stop stops it.
func startLMTP(t *testing.T) (s *lmtpStore, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s = &lmtpStore{addr: ln.Addr().String()}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		return &lmtpSession{s: s, epoch: s.epoch}, nil
	}))
	srv.LMTP = true
	srv.Domain = "store.example.test"
	srv.ErrorLog = quiet{}
	go srv.Serve(ln)
	return s, func() { srv.Close() }
}

// quiet drops go-smtp's log: a cut resets connections on purpose.
type quiet struct{}

func (quiet) Printf(string, ...any) {}
func (quiet) Println(...any)        {}

// phase starts an epoch: the sessions opened from now on count in it,
// and a delivery is offered to p's trigger.
func (s *lmtpStore) phase(epoch int, p *power) {
	s.mu.Lock()
	s.epoch, s.power = epoch, p
	s.mu.Unlock()
}

func (s *lmtpStore) deliveries() []delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]delivery(nil), s.got...)
}

type lmtpSession struct {
	s     *lmtpStore
	epoch int // of the connection: a delivery belongs to the run that sent it
	rcpts []string
}

func (x *lmtpSession) Reset()                               { x.rcpts = nil }
func (x *lmtpSession) Logout() error                        { return nil }
func (x *lmtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (x *lmtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.rcpts = append(x.rcpts, to)
	return nil
}

// Data keeps the message, and then offers the cut point "delivered":
// the list manager has it, and mdsweep has no reply yet.
func (x *lmtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	data := strings.ReplaceAll(string(b), "\r\n", "\n")
	x.s.mu.Lock()
	for _, to := range x.rcpts {
		x.s.got = append(x.s.got, delivery{epoch: x.epoch, rcpt: to, data: data})
	}
	p := x.s.power
	x.s.mu.Unlock()
	if p != nil {
		p.mu.Lock()
		e := event{disk: "store", kind: "delivered"}
		if !p.off && p.trigger != nil && p.trigger(e) {
			p.cut(e)
		}
		p.mu.Unlock()
	}
	return nil
}

// storeCommand is mdsweep -c's command: it keeps the message as a file
// of the store directory, named by epoch and recipient, whole or not at
// all (written aside, then renamed in).
const storeCommand = `f=$(mktemp -p "$POWERLOSS_STORE" .t.XXXXXX) && cat >"$f" && mv "$f" "$POWERLOSS_STORE/$POWERLOSS_EPOCH.$RECIPIENT.${f##*.t.}"`

// commandDeliveries reads what the command kept.
func commandDeliveries(dir string) ([]delivery, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var ds []delivery
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue // a copy cut short: not taken
		}
		parts := strings.SplitN(e.Name(), ".", 2)
		epoch, err := strconv.Atoi(parts[0])
		if err != nil || len(parts) != 2 {
			continue
		}
		rcpt := parts[1][:strings.LastIndexByte(parts[1], '.')]
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ds = append(ds, delivery{epoch: epoch, rcpt: rcpt, data: string(b)})
	}
	return ds, nil
}
