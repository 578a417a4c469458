// Package envelope reads what a message says about its envelope: the
// header its MTA prepended at delivery, the fields in it, and the
// addresses there, checked so that an envelope sender or recipient can go
// as it is into a record, a command's environment or an LMTP command.
// mdroute reads the recipient with it, and every hand-off the sender.
package envelope

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"mdpipe/internal/fsx"

	"golang.org/x/sys/unix"
)

// MaxHeader bounds how much of a message is read: a header that does not
// end within it is unroutable. Real headers are a few KiB; 256 KiB leaves
// room for hundreds of Received lines and still bounds a hostile file.
const MaxHeader = 256 << 10

// ErrHeaderTooLong is the reason for a header that does not end in time.
var ErrHeaderTooLong = fmt.Errorf("header does not end within %d KiB", MaxHeader>>10)

// HeaderReader reads message headers into a buffer it reuses, so routing
// allocates nothing per message for the read itself.
type HeaderReader struct {
	buf []byte
	// Closes, if set, takes each file read instead of a close(2) of its
	// own (fsx.Closes); its owner flushes it.
	Closes *fsx.Closes
}

// ReadFile returns the header of the message at path: everything before
// the blank line that ends it (or the whole file, if it has no body). The
// body is never read beyond what the last read(2) brought in. The slice is
// valid until the next call.
func (h *HeaderReader) ReadFile(path string) ([]byte, error) {
	return h.ReadFileAt(unix.AT_FDCWD, path, path)
}

// ReadFileAt is ReadFile for the file name in the directory dirfd
// (AT_FDCWD: name is a path); errors name the file by path.
func (h *HeaderReader) ReadFileAt(dirfd int, name, path string) ([]byte, error) {
	fd, err := fsx.OpenRegularAt(dirfd, name, path)
	if err != nil {
		// A message nobody may read costs only itself: routed nowhere,
		// parked with one line, not held as a claim for ever.
		return nil, fsx.DeniedByFile(path, err)
	}
	if h.Closes != nil {
		defer h.Closes.Add(fd)
	} else {
		defer fsx.CloseFile(fd)
	}
	hdr, err := h.Read(fdReader(fd))
	if err != nil && !errors.Is(err, ErrHeaderTooLong) {
		err = &os.PathError{Op: "read", Path: path, Err: err}
	}
	return hdr, err
}

// fdReader reads a bare descriptor.
type fdReader int

func (fd fdReader) Read(b []byte) (int, error) {
	for {
		n, err := fsx.ReadFile(int(fd), b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if n == 0 && len(b) > 0 {
			return 0, io.EOF
		}
		return n, nil
	}
}

// Read returns the header from r, as ReadFile does.
func (h *HeaderReader) Read(r io.Reader) ([]byte, error) {
	if h.buf == nil {
		h.buf = make([]byte, 8<<10)
	}
	n, scanned := 0, 0
	for {
		if n == len(h.buf) {
			if len(h.buf) > MaxHeader {
				return nil, ErrHeaderTooLong
			}
			grown := make([]byte, min(2*len(h.buf), MaxHeader+1))
			copy(grown, h.buf[:n])
			h.buf = grown
		}
		m, err := r.Read(h.buf[n:])
		n += m
		if end := headerEnd(h.buf[:n], scanned); end >= 0 {
			if end > MaxHeader {
				return nil, ErrHeaderTooLong
			}
			return h.buf[:end], nil
		}
		// Rescan the last two bytes next time: the blank line may straddle reads.
		scanned = max(0, n-2)
		if errors.Is(err, io.EOF) || (err == nil && m == 0) {
			if n > MaxHeader {
				return nil, ErrHeaderTooLong
			}
			return h.buf[:n], nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// headerEnd returns the length of the header in b (up to the end of its
// last line), or -1 if b does not yet hold the blank line that ends it. It
// looks from offset from on.
func headerEnd(b []byte, from int) int {
	if from == 0 && len(b) > 0 && (b[0] == '\n' || len(b) > 1 && b[0] == '\r' && b[1] == '\n') {
		return 0
	}
	for i := from; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return -1
		}
		k := i + j + 1 // start of the next line
		if k < len(b) && b[k] == '\n' {
			return k
		}
		if k+1 < len(b) && b[k] == '\r' && b[k+1] == '\n' {
			return k
		}
		i = k
	}
}

// Field returns the unfolded value of the topmost field in hdr whose name
// is any of names (ASCII case-insensitive), which one matched, and whether
// one was found. Only position counts: fields lower down were added by
// earlier hops.
func Field(hdr []byte, names []string) (name, value string, ok bool) {
	for len(hdr) > 0 {
		line, rest := cutLine(hdr)
		hdr = rest
		if len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue // a continuation of a field we passed over
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue // not a field (an mbox From_ line, garbage)
		}
		key := bytes.TrimRight(line[:colon], " \t")
		for _, n := range names {
			if len(key) == len(n) && equalFold(key, n) {
				v := bytes.TrimSpace(line[colon+1:])
				var b []byte
				for len(hdr) > 0 && (hdr[0] == ' ' || hdr[0] == '\t') {
					cont, rest := cutLine(hdr)
					hdr = rest
					cont = bytes.TrimSpace(cont)
					if len(cont) == 0 {
						continue // a blank continuation adds nothing
					}
					if b == nil {
						b = append([]byte(nil), v...)
					}
					if len(b) > 0 {
						b = append(b, ' ')
					}
					b = append(b, cont...)
				}
				if b != nil {
					return n, string(b), true
				}
				return n, string(v), true
			}
		}
	}
	return "", "", false
}

// cutLine splits off the first line, without its LF or CRLF.
func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		line, rest = b, nil
	} else {
		line, rest = b[:i], b[i+1:]
	}
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, rest
}

func equalFold(b []byte, s string) bool {
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
