package inventory

import (
	"bufio"
	"bytes"

	"mdpipe/internal/envelope"
	"mdpipe/internal/record"
	"mdpipe/internal/route"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // encoded words in any charset, not UTF-8 and Latin-1 only
	"github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"
)

// Details are what a message's header says about it, for mdq -l: where
// it goes, as mdroute would route it, and (verbose) who sent it and what
// about. Each is "-" when the header does not say, and each fits a field
// of a TAB-separated line.
type Details struct {
	List, Recipient          string
	From, Subject, MessageID string
}

// Reader reads the details of messages, reusing its buffer.
type Reader struct {
	Router  route.Router
	Headers []string // the envelope headers, topmost first; nil: mdroute's default
	Verbose bool     // read From, Subject and Message-ID too
	hr      envelope.HeaderReader
}

// Read returns the details of the message at path. A message that
// cannot be read or routed has "-" where it says nothing.
func (r *Reader) Read(path string) Details {
	d := Details{List: "-", Recipient: "-", From: "-", Subject: "-", MessageID: "-"}
	hdr, err := r.hr.ReadFile(path)
	if err != nil && len(hdr) == 0 {
		return d
	}
	names := r.Headers
	if names == nil {
		names = route.DefaultHeaders
	}
	if _, value, ok := envelope.Field(hdr, names); ok {
		for _, a := range envelope.Addresses(value) {
			if rt, err := r.Router.Route(a); err == nil {
				d.List, d.Recipient = record.CleanReason(rt.List), record.CleanReason(rt.Recipient)
				break
			}
		}
	}
	if r.Verbose {
		r.readVerbose(hdr, &d)
	}
	return d
}

// readVerbose decodes From, Subject and Message-ID, RFC 2047 encoded
// words and all, with go-message: a header decoder is not ours to write.
func (r *Reader) readVerbose(hdr []byte, d *Details) {
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr)))
	if err != nil && h.Len() == 0 {
		return
	}
	mh := mail.Header{Header: message.Header{Header: h}}
	if as, err := mh.AddressList("From"); err == nil && len(as) > 0 {
		d.From = record.CleanReason(as[0].Address)
		if as[0].Name != "" {
			d.From = record.CleanReason(as[0].Name + " <" + as[0].Address + ">")
		}
	} else if v, err := mh.Text("From"); err == nil {
		d.From = record.CleanReason(v)
	}
	if v, err := mh.Subject(); err == nil {
		d.Subject = record.CleanReason(v)
	}
	if v, err := mh.MessageID(); err == nil && v != "" {
		d.MessageID = record.CleanReason("<" + v + ">")
	}
}
