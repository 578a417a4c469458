package envelope

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/emersion/go-message/textproto"

	"mdpipe/internal/testkit"
)

// fuzzFixtures returns the real MTA deliveries under testdata/mta, the
// seed corpus of every fuzz target here.
func fuzzFixtures(f *testing.F) [][]byte { return testkit.MTADeliveries(f) }

// fuzzAddresses returns the envelope recipients of the fixtures, and
// some hostile ones.
func fuzzAddresses(f *testing.F) []string {
	return testkit.SeedAddresses(f, func(m []byte) []string {
		if _, v, ok := Field(m, envelopeHeaders); ok {
			return Addresses(v)
		}
		return nil
	})
}

// envelopeHeaders are the headers mdroute reads a recipient from by
// default (route.DefaultHeaders, which this package cannot import).
var envelopeHeaders = []string{"Delivered-To", "X-Original-To", "Envelope-to"}

// headerEndRef is the obvious definition of where a header ends: before
// the first empty line, LF or CRLF; the whole input if there is none.
func headerEndRef(b []byte) int {
	for pos := 0; ; {
		rest := b[pos:]
		if bytes.HasPrefix(rest, []byte("\n")) || bytes.HasPrefix(rest, []byte("\r\n")) {
			return pos
		}
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			return len(b)
		}
		pos += i + 1
	}
}

// fuzzChunkReader returns at most n bytes a read, so that the blank line
// falls across reads.
type fuzzChunkReader struct {
	b []byte
	n int
}

func (r *fuzzChunkReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	k := min(len(p), r.n, len(r.b))
	copy(p, r.b[:k])
	r.b = r.b[k:]
	return k, nil
}

// FuzzHeaderReader checks HeaderReader.Read against headerEndRef, whatever
// the reads' sizes, and Field against go-message's textproto.ReadHeader on
// the headers that both understand.
func FuzzHeaderReader(f *testing.F) {
	for _, m := range fuzzFixtures(f) {
		f.Add(m, uint8(1))
		f.Add(bytes.ReplaceAll(m, []byte("\n"), []byte("\r\n")), uint8(3))
	}
	f.Add([]byte("Delivered-To: a@b\n\nbody"), uint8(0))
	f.Add([]byte("\r\n"), uint8(2))
	f.Add([]byte("X: y\r\n\r"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		if len(data) > MaxHeader {
			return
		}
		want := data[:headerEndRef(data)]
		var h HeaderReader
		readers := []io.Reader{
			bytes.NewReader(data),
			&fuzzChunkReader{b: data, n: 1 + int(chunk)%17},
			iotest.DataErrReader(bytes.NewReader(data)),
		}
		for i, r := range readers {
			got, err := h.Read(r)
			if err != nil {
				t.Fatalf("reader %d: %v", i, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("reader %d: header %q, want %q", i, got, want)
			}
		}
		fuzzCompareTextproto(t, want)
	})
}

// fuzzCompareTextproto compares Field with textproto's Get for each default
// envelope header, on headers textproto reads without an error. Only
// ASCII without control characters is compared: Field trims Unicode
// spaces, textproto only blanks and tabs, and neither matters for an
// address, which must be ASCII.
func fuzzCompareTextproto(t *testing.T, hdr []byte) {
	for _, c := range hdr {
		if c >= 0x7f || c < ' ' && c != '\t' && c != '\n' {
			return
		}
	}
	if len(hdr) > 0 && hdr[len(hdr)-1] != '\n' {
		hdr = append(hdr[:len(hdr):len(hdr)], '\n')
	}
	th, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(hdr, '\n'))))
	if err != nil {
		return
	}
	for _, name := range envelopeHeaders {
		_, got, ok := Field(hdr, []string{name})
		want := th.Get(name)
		if ok != th.Has(name) || got != want {
			t.Fatalf("Field(%q) = %q, %v; textproto: %q, %v", name, got, ok, want, th.Has(name))
		}
	}
}

// FuzzSplitAddress checks that a parsed address is what an envelope
// recipient can be, and that parsing is stable.
func FuzzSplitAddress(f *testing.F) {
	for _, a := range fuzzAddresses(f) {
		f.Add(a)
	}
	f.Fuzz(func(t *testing.T, a string) {
		local, domain, err := SplitAddress(a)
		if err != nil {
			if strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		if local == "" || domain == "" || strings.ContainsAny(local, "@") || hasControl(local+domain) ||
			strings.ContainsAny(local+domain, " <>,") {
			t.Fatalf("SplitAddress(%q) = %q, %q", a, local, domain)
		}
		if strings.ContainsAny(local+domain, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") {
			t.Fatalf("SplitAddress(%q) = %q, %q: ASCII case not folded", a, local, domain)
		}
		l2, d2, err := SplitAddress(local + "@" + domain)
		if err != nil || l2 != local || d2 != domain {
			t.Fatalf("again: %q, %q, %v; want %q, %q", l2, d2, err, local, domain)
		}
	})
}

// hasControl reports a control character: none can be in an envelope
// address, and a TAB, LF or CR would break a record, an environment
// variable or an LMTP command.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// FuzzSender checks that a sender Sender accepts goes into a command's
// environment and into MAIL FROM:<...> as it is: bounded, no control
// character (NUL, CR, LF), nothing that ends the address or adds a
// parameter; and that it reads the same again in brackets.
func FuzzSender(f *testing.F) {
	for _, a := range fuzzAddresses(f) {
		f.Add(a)
		f.Add("<" + a + ">")
	}
	for _, m := range fuzzFixtures(f) {
		if _, v, ok := Field(m, []string{"Return-Path"}); ok {
			f.Add(v)
		}
	}
	f.Add("<#@[]>")
	f.Add("<a@example.org> SIZE=1")
	f.Add("<a\r@example.org>")
	f.Add(" <a@[IPv6:2001:db8::1]> ")
	f.Fuzz(func(t *testing.T, v string) {
		s, err := Sender(v)
		if err != nil {
			if strings.Contains(err.Error(), "\n") || len(err.Error()) > 300 {
				t.Fatalf("error not one short line: %q", err)
			}
			return
		}
		if len(s) > MaxPath || hasControl(s) || strings.ContainsAny(s, " <>\"") || !utf8.ValidString(s) {
			t.Fatalf("Sender(%q) = %q", v, s)
		}
		if s != "" && (!strings.Contains(s, "@") || strings.HasPrefix(s, "@") || strings.HasSuffix(s, "@")) {
			t.Fatalf("Sender(%q) = %q: not local@domain", v, s)
		}
		if again, err := Sender("<" + s + ">"); err != nil || again != s {
			t.Fatalf("Sender(<%s>) = %q, %v; want it unchanged", s, again, err)
		}
	})
}

// FuzzCheckRecipient checks that a recipient CheckRecipient accepts gives
// a command's RECIPIENT, LOCAL, HOST and DETAIL no "/", no ".." and no
// control character, and RCPT TO nothing that ends the address.
func FuzzCheckRecipient(f *testing.F) {
	for _, a := range fuzzAddresses(f) {
		f.Add(a)
	}
	f.Add("mylist-bounces+../../etc=x@lists.example.org")
	f.Add("mylist@../../etc")
	f.Fuzz(func(t *testing.T, r string) {
		if err := CheckRecipient(r); err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		if len(r) > MaxPath || hasControl(r) || strings.ContainsAny(r, " <>/") || strings.Contains(r, "..") {
			t.Fatalf("CheckRecipient(%q) passed", r)
		}
	})
}

// TestHeaderAtLimit pins the bound: a header that ends within MaxHeader
// is read, one that does not is refused, whatever the reads' sizes.
func TestHeaderAtLimit(t *testing.T) {
	line := "X-Pad: " + strings.Repeat("x", 90) + "\n"
	fill := func(size int) []byte {
		b := []byte(strings.Repeat(line, size/len(line)))
		return append(b, strings.Repeat("y", size-len(b)-1)+"\n"...)
	}
	for _, tc := range []struct {
		size int
		ok   bool
	}{{MaxHeader - 10, true}, {MaxHeader, true}, {MaxHeader + 1, false}, {10 << 20, false}} {
		data := append(fill(tc.size), "\nbody\n"...)
		for _, r := range []io.Reader{bytes.NewReader(data), &fuzzChunkReader{b: data, n: 4093}} {
			var h HeaderReader
			got, err := h.Read(r)
			if tc.ok && (err != nil || len(got) != tc.size) {
				t.Errorf("size %d: %d bytes, %v; want the header", tc.size, len(got), err)
			}
			if !tc.ok && !errors.Is(err, ErrHeaderTooLong) {
				t.Errorf("size %d: %d bytes, %v; want %v", tc.size, len(got), err, ErrHeaderTooLong)
			}
		}
	}
}
