package hostile

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// evilB is the unique name of the hostile message of each test.
const evilB = "1700000001.M1P1Q2.evil"

// unroutable delivers the hostile message content next to a control
// message, runs the pipeline, and checks that the hostile one is parked
// (X) with mdroute's reason matching re, and the control one handed off.
func unroutable(t *testing.T, content, re string) result {
	s := newSite(t)
	ok := s.control()
	s.deliver(evilB, content)
	s.mark()
	r := s.sh(pipeline)
	r.wantStatus(t, 0, 100, 100, 0)
	r.reason(t, "mdroute", "'"+filepath.Join(s.intake, "cur", evilB+":1,P")+"': .*"+re)
	s.wantAt(evilB, "X")
	s.wantAt(ok, "mylist/post")
	return r
}

// Hostile list names, through the envelope header: mdroute refuses each
// (mdpipe(7), RULES: nothing outside QUEUE), and the message is parked.
func TestListNames(t *testing.T) {
	for _, tc := range []struct{ name, list string }{
		{"dotdot", ".."},
		{"etc", "../../etc"},
		{"slash", "a/b"},
		{"hidden", ".hidden"},
		{"nul", "a\x00b"},
		{"long", strings.Repeat("a", 65)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			unroutable(t, "Delivered-To: "+tc.list+"@lists.example.test\nSubject: x\n\nbody\n",
				"not a bare|list|name")
		})
	}
}

// The same names, forged straight into mdsweep's input: it checks them
// again, whoever wrote the record (mdpipe(7), RULES: nothing outside
// QUEUE, for every tool that makes a path of LIST or SUBQUEUE).
func TestForgedRecords(t *testing.T) {
	for _, tc := range []struct{ name, list, sub string }{
		{"dotdot", "..", "post"},
		{"etc", "../../etc", "post"},
		{"slash", "a/b", "post"},
		{"hidden", ".hidden", "post"},
		{"nul", "a\x00b", "post"},
		{"long", strings.Repeat("a", 65), "post"},
		{"subqueue", "mylist", "../../../etc"},
		{"domain", "mylist@../../etc", "post"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			s.deliver(evilB, okMessage)
			s.mark()
			claim := filepath.Join(s.intake, "cur", evilB+":1,P")
			rec := filepath.Join(t.TempDir(), "records")
			r := s.sh(`mdclaim "$INTAKE"`)
			r.wantStatus(t, 0)
			s.write(rec, claim+"\t"+tc.list+"\t"+tc.sub+"\tmylist@lists.example.test\n")
			r = s.sh(`mdsweep -q "$QUEUE" <` + rec + ` | mdfail`)
			r.wantStatus(t, 100, 0)
			r.reason(t, "mdsweep", "'"+claim+"': ")
			s.wantAt(evilB, "X")
		})
	}
}

func TestLongLocalPart(t *testing.T) {
	r := unroutable(t, "Delivered-To: "+strings.Repeat("x", 10000)+"@lists.example.test\n\nbody\n", "")
	if len(r.stderr) > 2000 {
		t.Errorf("%d bytes of log for one message", len(r.stderr))
	}
}

func TestHugeHeader(t *testing.T) {
	// 10 MB of header fields and no blank line: the read is bounded.
	var b strings.Builder
	b.WriteString("Delivered-To: mylist@lists.example.test\n")
	for b.Len() < 10<<20 {
		b.WriteString("X-Filler: " + strings.Repeat("f", 100) + "\n")
	}
	unroutable(t, b.String(), "header does not end")
}

func TestBinaryGarbage(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	unroutable(t, string(b), "no Delivered-To|header")
}

func TestNoEnvelopeHeader(t *testing.T) {
	unroutable(t, "From: a@example.org\nTo: mylist@lists.example.test\nSubject: no envelope\n\nbody\n",
		"no Delivered-To, X-Original-To, Envelope-to field")
}

func TestEightBitEnvelope(t *testing.T) {
	unroutable(t, "Delivered-To: m\xc3\xbcnchen@lists.example.test\nSubject: x\n\nbody\n", "list")
}

// Routable hostile forms: they must reach the queue quietly, bytes
// unchanged.
func TestRoutableHostileForms(t *testing.T) {
	for _, tc := range []struct{ name, msg, at string }{
		{"CRLF", "X-Original-To: mylist-bounces+a=example.org@lists.example.test\r\n" +
			"Delivered-To: mylist-bounces+a=example.org@lists.example.test\r\nSubject: crlf\r\n\r\nbody\r\n", "mylist/bounces"},
		{"EightBitHeaderValues", "Delivered-To: mylist@lists.example.test\nFrom: J\xfcrgen <j@example.org>\n" +
			"Subject: gr\xc3\xbc\xc3\x9fe \xff\xfe\nX-Bin: \x01\x02\x7f\n\nbody \xe9\n", "mylist/post"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newSite(t)
			s.deliver(evilB, tc.msg)
			s.mark()
			r := s.sh(pipeline)
			r.wantStatus(t, 0, 0, 0, 0)
			if r.stderr != "" {
				t.Errorf("stderr: %s", r.stderr)
			}
			s.wantAt(evilB, tc.at)
			s.sameBytes(filepath.Join(s.queue, tc.at, "new", evilB), tc.msg)
		})
	}
}

func (s *site) sameBytes(path, want string) {
	s.t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != want {
		s.t.Errorf("%s: %q, %v; want the message as delivered", path, b, err)
	}
}
