package handoff

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"mdpipe/internal/envelope"
	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/logline"
)

// locked is a claim held under flock for a hand-off that is more than one
// rename (mdpipe(7), RULES: the owner rule): recovery leaves it alone until
// it is closed.
type locked struct {
	claim  intake.Claim
	file   *os.File
	sender string // from Return-Path, checked by envelope.Sender; "" for <>
}

// lockMessage locks the claim and reads its envelope sender. It returns
// nil, fault.ErrGone when the claim is gone: someone else acted first. The
// caller closes m.file, which releases the lock.
func lockMessage(c intake.Claim, hr *envelope.HeaderReader) (*locked, error) {
	f, _, err := c.Lock()
	if err == fault.ErrGone {
		return nil, err
	}
	if err != nil {
		return nil, fault.Classify(err) // not a regular file: permanent
	}
	hdr, err := hr.Read(f)
	if err == envelope.ErrHeaderTooLong {
		// No Return-Path can be trusted in a header that does not end:
		// handing it off as from <> would lie. mdroute refuses such a
		// message; a forged record must not pass it on.
		f.Close()
		return nil, fault.Permanent(fmt.Errorf("no sender: %v", err))
	}
	if err != nil {
		f.Close()
		return nil, fault.Classify(err)
	}
	m := &locked{claim: c, file: f}
	if _, v, ok := envelope.Field(hdr, []string{"Return-Path"}); ok {
		// The message's own bytes: a sender no command environment or
		// MAIL FROM can carry as it is stays so on every try, so the
		// message is parked, not retried.
		if m.sender, err = envelope.Sender(v); err != nil {
			f.Close()
			return nil, fault.Permanent(err)
		}
	}
	return m, nil
}

// rewind makes m.file read the message from its first byte.
func (m *locked) rewind() error {
	_, err := m.file.Seek(0, io.SeekStart)
	return err
}

// outcome keeps, across the retries of the message in hand, the final
// answer of each of its recipients: nil when it took the message, or the
// permanent error of a refusal. A retry after a temporary failure hands
// the message only to the recipients with no final answer yet, so the
// ones that took it do not get it twice.
type outcome struct {
	path  string
	final map[string]error
}

// start begins a message, or carries on with the one in hand.
func (o *outcome) start(path string) {
	if o.path != path || o.final == nil {
		o.path, o.final = path, make(map[string]error)
	}
}

// pending returns the recipients of dests with no final answer, each once.
func (o *outcome) pending(dests []Dest) []Dest {
	var todo []Dest
	seen := make(map[string]bool)
	for _, d := range dests {
		if _, ok := o.final[d.Recipient]; !ok && !seen[d.Recipient] {
			seen[d.Recipient] = true
			todo = append(todo, d)
		}
	}
	return todo
}

// took returns those of dests whose recipient took the message at path.
func (o *outcome) took(path string, dests []Dest) []Dest {
	if o.path != path {
		return nil
	}
	var out []Dest
	for _, d := range dests {
		if err, ok := o.final[d.Recipient]; ok && err == nil {
			out = append(out, d)
		}
	}
	return out
}

// finish ends the message once every recipient answered for good. When
// none took it, it returns the refusals as a permanent error (mdfail parks
// it). When some took it, it drops the claim, and logs any refusal: parking
// the message for a retry would deliver it to the others twice.
func (o *outcome) finish(m *locked, log *logline.Log, sync *fsx.DirSync) error {
	var refused []string
	for _, err := range o.final {
		if err != nil {
			refused = append(refused, err.Error())
		}
	}
	took := len(o.final) - len(refused)
	o.path, o.final = "", nil
	sort.Strings(refused)
	why := errors.New(strings.Join(refused, "; "))
	if took == 0 {
		return fault.Permanent(why)
	}
	if len(refused) > 0 {
		log.Path("handed off to some recipients only, not parked", m.claim.Path, why)
	}
	return m.done(sync)
}

// done drops the claim, still under its lock: the message is the list
// manager's now. The claim's directory is marked for the batch fsync.
func (m *locked) done(sync *fsx.DirSync) error {
	if err := m.claim.Drop(); err != nil {
		return fault.Temporary(err)
	}
	sync.Mark(m.claim.Cur)
	return nil
}

// splitRecipient returns a recipient's local part, its domain, and the
// detail: the part of the local part after the first of the extension
// delimiters, "" if there is none (qmail-local's LOCAL, HOST and EXT).
func splitRecipient(recipient, delims string) (local, host, detail string) {
	local = recipient
	if i := strings.LastIndexByte(recipient, '@'); i >= 0 {
		local, host = recipient[:i], recipient[i+1:]
	}
	if delims == "" {
		delims = "+"
	}
	if i := strings.IndexAny(local, delims); i >= 0 {
		detail = local[i+1:]
	}
	return local, host, detail
}
