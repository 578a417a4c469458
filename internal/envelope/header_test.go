package envelope

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"

	"github.com/google/go-cmp/cmp"

	"mdpipe/internal/fsx"
)

// readers feed a message to HeaderReader.Read in different chunkings: the
// blank line that ends the header can straddle any two reads.
var readers = map[string]func(string) io.Reader{
	"whole":       func(s string) io.Reader { return strings.NewReader(s) },
	"byte a time": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
	"half a time": func(s string) io.Reader { return iotest.HalfReader(strings.NewReader(s)) },
	"data+EOF":    func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
}

func TestHeaderRead(t *testing.T) {
	long := "X-Long: " + strings.Repeat("x", 20000) + "\n" // grows the buffer past 8 KiB
	cases := []struct {
		name, msg, want string
	}{
		{"LF", "A: 1\nB: 2\n\nbody\n", "A: 1\nB: 2\n"},
		{"CRLF", "A: 1\r\nB: 2\r\n\r\nbody\r\n", "A: 1\r\nB: 2\r\n"},
		{"no blank line: header is the whole file", "A: 1\nB: 2\n", "A: 1\nB: 2\n"},
		{"no final newline", "A: 1\nB: 2", "A: 1\nB: 2"},
		{"empty file", "", ""},
		{"empty header", "\nbody\n", ""},
		{"empty header CRLF", "\r\nbody\r\n", ""},
		{"body holds another blank line", "A: 1\n\nb\n\nc\n", "A: 1\n"},
		{"folded field", "A: 1\n 2\n\tthree\n\nbody", "A: 1\n 2\n\tthree\n"},
		{"8-bit bytes", "Subject: caf\xc3\xa9 \xff\nA: 1\n\nb\xe9", "Subject: caf\xc3\xa9 \xff\nA: 1\n"},
		{"header over the first buffer", long + "A: 1\n\nbody", long + "A: 1\n"},
		{"lone CR is no line end", "A: 1\r\rB: 2\n\nb", "A: 1\r\rB: 2\n"},
	}
	for _, tc := range cases {
		for rname, mk := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				var hr HeaderReader
				got, err := hr.Read(mk(tc.msg))
				if err != nil {
					t.Fatal(err)
				}
				if d := cmp.Diff(tc.want, string(got)); d != "" {
					t.Errorf("header (-want +got):\n%s", d)
				}
			})
		}
	}
}

// TestHeaderReadReuse checks that a reused reader gives each message its
// own header, after a long one grew the buffer.
func TestHeaderReadReuse(t *testing.T) {
	var hr HeaderReader
	msgs := []string{
		"X-Long: " + strings.Repeat("y", 100000) + "\n\nbody",
		"A: short\n\nbody\n",
		"B: no body",
	}
	wants := []string{msgs[0][:len(msgs[0])-5], "A: short\n", "B: no body"}
	for i, m := range msgs {
		got, err := hr.Read(strings.NewReader(m))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != wants[i] {
			t.Errorf("message %d: got %d bytes %.40q, want %d bytes %.40q", i, len(got), got, len(wants[i]), wants[i])
		}
	}
}

func TestHeaderTooLong(t *testing.T) {
	line := "Received: " + strings.Repeat("r", 100) + "\n"
	header := func(n int) string { // a header of exactly n bytes
		s := strings.Repeat(line, n/len(line))
		if rest := n - len(s); rest > 0 {
			s += "X:" + strings.Repeat("z", rest-3) + "\n"
		}
		return s
	}
	cases := []struct {
		name    string
		msg     string
		tooLong bool
	}{
		{"exactly the limit", header(MaxHeader) + "\nbody", false},
		{"one byte over", header(MaxHeader+1) + "\nbody", true},
		{"1 MiB header", header(1<<20) + "\nbody", true},
		{"no blank line, within the limit", header(MaxHeader), false},
		{"no blank line, over the limit", header(MaxHeader + 1), true},
		{"one endless line", strings.Repeat("x", 2*MaxHeader), true},
	}
	for _, tc := range cases {
		for _, rname := range []string{"whole", "half a time"} {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				var hr HeaderReader
				got, err := hr.Read(readers[rname](tc.msg))
				if tc.tooLong {
					if !errors.Is(err, ErrHeaderTooLong) {
						t.Fatalf("got %d bytes, %v; want ErrHeaderTooLong", len(got), err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != MaxHeader {
					t.Errorf("got %d bytes, want %d", len(got), MaxHeader)
				}
			})
		}
	}
}

// TestHeaderReadStopsAtHeader checks that the body is not read on: a
// reader that fails after the header proves no read went past it.
func TestHeaderReadStopsAtHeader(t *testing.T) {
	msg := "A: 1\n\n"
	r := io.MultiReader(iotest.OneByteReader(strings.NewReader(msg)), iotest.ErrReader(errors.New("body read")))
	var hr HeaderReader
	got, err := hr.Read(r)
	if err != nil || string(got) != "A: 1\n" {
		t.Errorf("Read = %q, %v; want the header and no error", got, err)
	}
}

func TestHeaderReadError(t *testing.T) {
	eio := errors.New("input/output error")
	r := io.MultiReader(strings.NewReader("A: 1\nB: 2\n"), iotest.ErrReader(eio))
	var hr HeaderReader
	if _, err := hr.Read(r); !errors.Is(err, eio) {
		t.Errorf("Read = %v, want the reader's error", err)
	}
}

func TestHeaderReadFile(t *testing.T) {
	dir := t.TempDir()
	msg := filepath.Join(dir, "msg")
	if err := os.WriteFile(msg, []byte("Delivered-To: a@b\n\nbody"), 0o600); err != nil {
		t.Fatal(err)
	}
	var hr HeaderReader
	if got, err := hr.ReadFile(msg); err != nil || string(got) != "Delivered-To: a@b\n" {
		t.Errorf("ReadFile(regular) = %q, %v", got, err)
	}
	if err := os.Symlink(msg, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"link", "fifo", "."} {
		if _, err := hr.ReadFile(filepath.Join(dir, name)); !errors.Is(err, fsx.ErrNotRegular) {
			t.Errorf("ReadFile(%s) = %v, want ErrNotRegular", name, err)
		}
	}
	if _, err := hr.ReadFile(filepath.Join(dir, "gone")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestField(t *testing.T) {
	cases := []struct {
		name      string
		hdr       string
		names     []string
		wantName  string
		wantValue string
		wantOK    bool
	}{
		{"topmost of any name wins", "X-Original-To: a@x\nDelivered-To: b@x\n", envelopeHeaders, "X-Original-To", "a@x", true},
		{"order of names does not matter", "Delivered-To: a@x\nX-Original-To: b@x\n", []string{"X-Original-To", "Delivered-To"}, "Delivered-To", "a@x", true},
		{"older hop lower down", "Delivered-To: new@x\nReceived: by y\nDelivered-To: old@y\n", envelopeHeaders, "Delivered-To", "new@x", true},
		{"case-insensitive name", "ENVELOPE-TO: a@x\n", envelopeHeaders, "Envelope-to", "a@x", true},
		{"space before colon", "Delivered-To : a@x\n", envelopeHeaders, "Delivered-To", "a@x", true},
		{"longer name is another field", "Delivered-To-Foo: a@x\nDelivered-To: b@x\n", envelopeHeaders, "Delivered-To", "b@x", true},
		{"value in a continuation only", "Delivered-Tox: a@x\nX-Original-To:\n a@x\n", envelopeHeaders, "X-Original-To", "a@x", true},
		{"folded Envelope-to", "Envelope-to: a@x,\n b@x,\n\tc@x\nDelivery-date: now\n", envelopeHeaders, "Envelope-to", "a@x, b@x, c@x", true},
		{"folded CRLF", "Envelope-to: a@x,\r\n b@x\r\nX: y\r\n", envelopeHeaders, "Envelope-to", "a@x, b@x", true},
		{"CRLF", "Delivered-To: a@x\r\n", envelopeHeaders, "Delivered-To", "a@x", true},
		{"a match in a continuation line is not a field", "Subject: hi\n Delivered-To: evil@x\nDelivered-To: a@x\n", envelopeHeaders, "Delivered-To", "a@x", true},
		{"mbox From_ line skipped", "From someone Mon Jan 1\nDelivered-To: a@x\n", envelopeHeaders, "Delivered-To", "a@x", true},
		{"8-bit field before", "Subject: \xff\xfe\nDelivered-To: a@x\n", envelopeHeaders, "Delivered-To", "a@x", true},
		{"custom -H names", "Delivered-To: a@x\nX-Envelope-To: b@x\n", []string{"X-Envelope-To"}, "X-Envelope-To", "b@x", true},
		{"none", "From: a@x\nTo: b@x\n", envelopeHeaders, "", "", false},
		{"empty header", "", envelopeHeaders, "", "", false},
		{"empty value", "Delivered-To:\nX-Original-To: a@x\n", envelopeHeaders, "Delivered-To", "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name, value, ok := Field([]byte(tc.hdr), tc.names)
			got := []any{name, value, ok}
			want := []any{tc.wantName, tc.wantValue, tc.wantOK}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("Field (-want +got):\n%s", d)
			}
		})
	}
}

// mtaDir holds real deliveries by Postfix and Exim (testdata/mta/README.md).
const mtaDir = "../../testdata/mta"

// TestBatchFixtureFolded reads Exim's batched delivery: one Envelope-to,
// folded over two lines, naming both recipients.
func TestBatchFixtureFolded(t *testing.T) {
	var hr HeaderReader
	hdr, err := hr.ReadFile(filepath.Join(mtaDir, "exim/batch/new/1795894070.M310890P12788.mx.example.test"))
	if err != nil {
		t.Fatal(err)
	}
	_, v, ok := Field(hdr, envelopeHeaders)
	if !ok {
		t.Fatal("no Envelope-to")
	}
	want := []string{"mylist-bounces+alice=example.org@batch.example.test", "mylist-bounces+bob=example.net@batch.example.test"}
	if d := cmp.Diff(want, Addresses(v)); d != "" {
		t.Errorf("Addresses (-want +got):\n%s", d)
	}
	if !bytes.HasSuffix(hdr, []byte("\n")) || bytes.Contains(hdr, []byte("\n\n")) {
		t.Errorf("header is not cut at the blank line: %q", hdr)
	}
}
