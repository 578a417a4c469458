package handoff

import (
	"io"
	"os"
	"strings"

	"mdpipe/internal/fsx"
	"mdpipe/internal/intake"
	"mdpipe/internal/route"
)

// locked is a claim held under flock for a hand-off that is more than one
// rename (DESIGN rule 1): recovery leaves it alone until it is closed.
type locked struct {
	claim  intake.Claim
	file   *os.File
	sender string // from Return-Path; "" for the null sender <>
}

// lockMessage locks the claim and reads its envelope sender. It returns
// nil, nil when the claim is gone: someone else acted first.
func lockMessage(c intake.Claim, hr *route.HeaderReader) (*locked, error) {
	f, _, err := fsx.LockClaim(c.Path)
	if err == fsx.ErrGone {
		return nil, nil
	}
	if err != nil {
		if isNotRegular(err) {
			return nil, Permanent(err)
		}
		return nil, classify(err)
	}
	hdr, err := hr.Read(f)
	if err != nil && err != route.ErrHeaderTooLong {
		f.Close()
		return nil, classify(err)
	}
	m := &locked{claim: c, file: f}
	if _, v, ok := route.Field(hdr, []string{"Return-Path"}); ok {
		m.sender = strings.Trim(strings.TrimSpace(v), "<>")
	}
	return m, nil
}

// body returns the message from its first byte.
func (m *locked) body() (io.Reader, error) {
	if _, err := m.file.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return m.file, nil
}

// done drops the claim: the message is the list manager's now. The claim's
// directory is marked for the batch fsync.
func (m *locked) done(sync *fsx.DirSync) error {
	defer m.file.Close()
	if err := os.Remove(m.claim.Path); err != nil && !os.IsNotExist(err) {
		return Temporary(err)
	}
	sync.Mark(m.claim.Cur)
	return nil
}

func isNotRegular(err error) bool {
	return err != nil && strings.Contains(err.Error(), fsx.ErrNotRegular.Error())
}

// detail returns the part of a recipient's local part after the first
// extension delimiter, "" if there is none.
func detail(recipient, delims string) (local, host, ext string) {
	local, host, _ = strings.Cut(recipient, "@")
	if i := strings.LastIndexByte(recipient, '@'); i >= 0 {
		local, host = recipient[:i], recipient[i+1:]
	}
	if delims == "" {
		delims = "+"
	}
	if i := strings.IndexAny(local, delims); i >= 0 {
		ext = local[i+1:]
	}
	return local, host, ext
}
