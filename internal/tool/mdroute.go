package tool

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/envelope"
	"mdpipe/internal/fault"
	"mdpipe/internal/fsx"
	"mdpipe/internal/record"
	"mdpipe/internal/route"
	"mdpipe/internal/stage"

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
		return fs.Usage(mdrouteUsage, err)
	}
	in, err := cli.NewInput(fs.Args())
	if err != nil {
		return fs.Usage(mdrouteUsage, err)
	}
	s, ok := stage.After("mdroute")
	if !ok {
		return int(cli.Perm)
	}
	s.Log.Verbose = *verbose
	rt := &route.Router{Prefix: *prefix, Delims: *delims, Full: *full}
	for _, d := range strings.Split(*domains, ",") {
		if d = strings.ToLower(strings.TrimSpace(d)); d != "" {
			rt.Domains = append(rt.Domains, d)
		}
	}
	if *lists != "" {
		if rt.Known, err = route.LoadLists(*lists); err != nil {
			s.Log.Printf("known lists: %v", err)
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
		return fs.Usage(mdrouteUsage, fmt.Errorf("%s: no header names", fs.Origin("H")))
	}
	m := &router{Stage: s, rt: rt, headers: names, operands: in.FromOperands()}
	m.hr.Closes = &m.closes
	defer m.dir.Close()
	defer m.closes.Flush()
	// The messages read are closed together at each pause of the input,
	// so an idle mdroute holds none open; quiet input: keep no directory
	// of the intake open either (an unmount).
	s.Each(in, stage.Commits{Pause: m.closes.Flush, Quiet: m.dir.Close}, m.route)
	return s.End()
}

type router struct {
	*stage.Stage
	rt      *route.Router
	headers []string
	hr      envelope.HeaderReader
	closes  fsx.Closes  // the messages read since the last pause
	dir     fsx.KeptDir // the directory of the last message read
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
		m.Log.Path("", path, err)
		m.Note(cli.Perm)
		return
	}
	hdr, err := m.read(path)
	if err != nil {
		switch {
		case fault.IsGone(err) && m.operands:
			// A path typed, or passed, as an operand: say so.
			m.Log.Path("", path, unix.ENOENT)
			m.Note(cli.Perm)
		case fault.IsGone(err):
			// Someone else acted on the claim first (mdpipe(7), RULES:
			// the owner rule).
			m.Log.Info("skipping '%s': gone", path)
		case errors.Is(err, envelope.ErrHeaderTooLong), fault.IsPermanent(err):
			m.unroutable(path, err)
		default:
			// Stays claimed for mdclaim -r; the read may work next time.
			m.Log.Path("cannot read", path, err)
			m.Note(cli.Temp)
		}
		return
	}
	name, value, ok := envelope.Field(hdr, m.headers)
	if !ok {
		m.unroutable(path, fmt.Errorf("no %s field in the header", strings.Join(m.headers, ", ")))
		return
	}
	var first error
	routes := m.routes[:0]
	for _, a := range envelope.Addresses(value) {
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
		m.Out.Add(path, rt.List, rt.Subqueue, rt.Recipient, record.Count(i+1, n))
		if m.Log.Verbose { // Info's arguments would allocate for nothing
			m.Log.Info("routed '%s': %s %s %s", path, rt.List, rt.Subqueue, rt.Recipient)
		}
	}
	switch {
	case n == 0 && first == nil:
		m.unroutable(path, fmt.Errorf("%s: no address", name))
	case n == 0:
		m.unroutable(path, first)
	case first != nil:
		// Routed to the lists it could; the rest is said and dropped.
		m.Log.Path("some recipients unroutable", path, first)
		m.Note(cli.Perm)
	}
	if n > 0 {
		m.Out.End()
	}
}

// read returns the header of the message at path, opened by its name in
// its directory, kept open (fsx.KeptDir); if it is not there, by its whole
// path again, which may lead to a directory made anew since.
func (m *router) read(path string) ([]byte, error) {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return m.hr.ReadFile(path)
	}
	fd := m.dir.At(path[:i], time.Now())
	if fd < 0 {
		return m.hr.ReadFile(path)
	}
	hdr, err := m.hr.ReadFileAt(fd, path[i+1:], path)
	if fault.IsGone(err) {
		m.dir.Expire()
		return m.hr.ReadFile(path)
	}
	return hdr, err
}

// unroutable logs why a message cannot be routed, and passes it on as a
// failed record, PATH<TAB>REASON, for mdfail to park and keep the reason.
func (m *router) unroutable(path string, why error) {
	m.Log.Path("", path, why)
	m.Out.Record(path, record.CleanReason(why.Error()))
	m.Note(cli.Perm)
}
