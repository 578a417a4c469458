package tool

import (
	"errors"
	"fmt"
	"strings"

	"mdpipe/internal/cli"
	"mdpipe/internal/record"
	"mdpipe/internal/route"

	"golang.org/x/sys/unix"
)

const mdrouteUsage = "mdroute [-F] [-H hdr:hdr...] [-d dom,dom...] [-p prefix] [-e delims] [-l lists] [-v] [path ...]"

// Mdroute reads each message's envelope recipient and prints its routes.
func Mdroute(args []string) int {
	fs := cli.NewFlags("mdroute")
	headers := fs.String("H", "MDROUTE_HEADERS", strings.Join(route.DefaultHeaders, ":"), "envelope header `names`, colon-separated; the topmost field with any of them is the recipient")
	domains := fs.String("d", "MDROUTE_DOMAINS", "", "accepted list `domains`, comma-separated (default: any)")
	prefix := fs.String("p", "MDROUTE_PREFIX", "", "local-part `prefix` to strip (qmail virtual domains)")
	delims := fs.String("e", "MDROUTE_DELIMITERS", "+", "extension `delimiters`")
	lists := fs.String("l", "MDROUTE_LISTS", "", "known lists: a `file` (a name a line) or a directory (an entry per list)")
	full := fs.Bool("F", "MDROUTE_FULL", "print LIST as list@domain")
	verbose := fs.Bool("v", "MDROUTE_VERBOSE", "log each message routed")
	if err := fs.Parse(args); err != nil {
		return usage(fs, mdrouteUsage, err)
	}
	in, err := cli.NewInput(fs.Args())
	if err != nil {
		return usage(fs, mdrouteUsage, err)
	}
	r := newRun("mdroute")
	r.log.Verbose = *verbose
	rt := &route.Router{Prefix: *prefix, Delims: *delims, Full: *full}
	for _, d := range strings.Split(*domains, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			rt.Domains = append(rt.Domains, d)
		}
	}
	if *lists != "" {
		if rt.Known, err = route.LoadLists(*lists); err != nil {
			r.log.Printf("known lists: %v", err)
			return int(cli.Temp)
		}
	}
	var names []string
	for _, h := range strings.Split(*headers, ":") {
		if h = strings.TrimSpace(h); h != "" {
			names = append(names, h)
		}
	}
	if len(names) == 0 {
		return usage(fs, mdrouteUsage, fmt.Errorf("%s: no header names", fs.Origin("H")))
	}
	if !r.onDrain(nil) {
		return int(cli.Perm)
	}
	m := &router{run: r, rt: rt, headers: names, operands: in.FromOperands()}
	r.each(in, nil, m.route)
	return r.end()
}

type router struct {
	*run
	rt      *route.Router
	headers []string
	hr      route.HeaderReader
	routes  []route.Route
	// operands: each input is a whole path, not a record.
	operands bool
}

// route prints the routes of one message, all in one write, or a failed
// record and a log line saying why it is unroutable.
func (m *router) route(line []byte) {
	path := record.PathOf(line)
	if m.operands {
		path = string(line)
	}
	if err := record.CheckPath(path); err != nil {
		m.log.Path("", path, err)
		m.note(cli.Perm)
		return
	}
	hdr, err := m.hr.ReadFile(path)
	if err != nil {
		switch {
		case route.IsGone(err) && m.operands:
			// A path typed, or passed, as an operand: say so.
			m.log.Path("", path, unix.ENOENT)
			m.note(cli.Perm)
		case route.IsGone(err):
			// Someone else acted on the claim first (DESIGN rule 1).
			m.log.Info("skipping '%s': gone", path)
		case errors.Is(err, route.ErrHeaderTooLong), isPermanentRead(err):
			m.unroutable(path, err)
		default:
			// Stays claimed for mdclaim -r; the read may work next time.
			m.log.Path("cannot read", path, err)
			m.note(cli.Temp)
		}
		return
	}
	name, value, ok := route.Field(hdr, m.headers)
	if !ok {
		m.unroutable(path, fmt.Errorf("no %s field in the header", strings.Join(m.headers, ", ")))
		return
	}
	var first error
	routes := m.routes[:0]
	for _, a := range route.Addresses(value) {
		rt, err := m.rt.Route(a)
		if err != nil {
			if first == nil {
				first = fmt.Errorf("%s: %w", name, err)
			}
			continue
		}
		routes = append(routes, rt)
	}
	m.routes = routes
	n := len(routes)
	if n > record.MaxCount {
		m.unroutable(path, fmt.Errorf("%s: %d recipients, more than %d", name, n, record.MaxCount))
		return
	}
	// The N records of a message carry I/N: mdsweep hands the message
	// off once it holds all N, however the pipe splits them.
	for i, rt := range routes {
		m.out.Add(path, rt.List, rt.Subqueue, rt.Recipient, record.Count(i+1, n))
		if m.log.Verbose { // Info's arguments would allocate for nothing
			m.log.Info("routed '%s': %s %s %s", path, rt.List, rt.Subqueue, rt.Recipient)
		}
	}
	switch {
	case n == 0 && first == nil:
		m.unroutable(path, fmt.Errorf("%s: no address", name))
	case n == 0:
		m.unroutable(path, first)
	case first != nil:
		// Routed to the lists it could; the rest is said and dropped.
		m.log.Path("some recipients unroutable", path, first)
		m.note(cli.Perm)
	}
	if n > 0 {
		m.out.End()
	}
}

// unroutable logs why a message cannot be routed, and passes it on as a
// failed record, PATH<TAB>REASON, for mdfail to park and keep the reason.
func (m *router) unroutable(path string, why error) {
	m.log.Path("", path, why)
	m.out.Record(path, record.CleanReason(why.Error()))
	m.note(cli.Perm)
}
