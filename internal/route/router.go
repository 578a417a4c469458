// Package route splits a message's envelope recipient, which package
// envelope reads from its header, into list, subqueue and recipient
// (mdroute(1)).
package route

import (
	"errors"
	"fmt"
	"strings"

	"mdpipe/internal/envelope"
	"mdpipe/internal/safename"
)

// DefaultHeaders are the envelope headers MTAs prepend: Postfix writes
// X-Original-To above Delivered-To; qmail, OpenSMTPD and Courier write
// Delivered-To; Exim writes Envelope-to.
var DefaultHeaders = []string{"Delivered-To", "X-Original-To", "Envelope-to"}

// subqueues maps a local-part suffix to the subqueue Mailman dispatches it
// to, in its canonical name.
var subqueues = map[string]string{
	"bounces":     "bounces",
	"admin":       "bounces",
	"confirm":     "confirm",
	"join":        "join",
	"subscribe":   "join",
	"leave":       "leave",
	"unsubscribe": "leave",
	"owner":       "owner",
	"request":     "request",
}

// Post is the subqueue of a plain list address.
const Post = "post"

// Route is where one recipient of a message goes.
type Route struct {
	List      string // list, or list@domain with Full
	Subqueue  string // post, bounces, confirm, join, leave, owner, request
	Recipient string // lower-cased, prefix stripped, extension kept
}

// Router splits envelope recipients into routes.
type Router struct {
	Domains []string // accepted list domains, lower-case; empty: any
	Prefix  string   // local-part prefix to strip when present (qmail)
	Delims  string   // extension delimiters; empty: "+"
	Known   *Lists   // known lists; nil: any list
	Full    bool     // print LIST as list@domain
}

// ErrUnknownList is the reason for a list that -l does not know.
var ErrUnknownList = errors.New("unknown list")

// Route routes one address.
func (r *Router) Route(addr string) (Route, error) {
	local, domain, err := envelope.SplitAddress(addr)
	if err != nil {
		return Route{}, err
	}
	if len(r.Domains) > 0 && !r.acceptsDomain(domain) {
		return Route{}, fmt.Errorf("domain %q is not a list domain", clip(domain))
	}
	local = strings.TrimPrefix(local, strings.ToLower(r.Prefix))
	recipient := local + "@" + domain

	delims := r.Delims
	if delims == "" {
		delims = "+"
	}
	base := local
	if i := strings.IndexAny(local, delims); i >= 0 {
		base = local[:i]
	}

	list, sub := base, Post
	exact := r.Known != nil && r.Known.Has(base, domain)
	if !exact {
		if i := strings.LastIndexByte(base, '-'); i >= 0 {
			if s, ok := subqueues[base[i+1:]]; ok {
				list, sub = base[:i], s
			}
		}
	}
	if err := safename.Name(list); err != nil {
		return Route{}, fmt.Errorf("list %q: %v", clip(list), nameReason(err))
	}
	if r.Known != nil && !exact && !r.Known.Has(list, domain) {
		return Route{}, fmt.Errorf("%w %q", ErrUnknownList, list)
	}
	if r.Full {
		list += "@" + domain
		if err := safename.List(list); err != nil {
			return Route{}, err
		}
	}
	return Route{List: list, Subqueue: sub, Recipient: recipient}, nil
}

func (r *Router) acceptsDomain(d string) bool {
	for _, x := range r.Domains {
		if x == d {
			return true
		}
	}
	return false
}

// nameReason drops the name from a safename error, which the caller
// already shows clipped.
func nameReason(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, "\" "); i >= 0 {
		return s[i+2:]
	}
	return s
}

// clip keeps a hostile 10,000-byte name from flooding the log line.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
