package route

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/envelope"
	"mdpipe/internal/safename"
	"mdpipe/internal/testkit"
)

// fuzzAddresses returns the envelope recipients of the real MTA
// deliveries under testdata/mta, and some hostile ones.
func fuzzAddresses(f *testing.F) []string {
	return testkit.SeedAddresses(f, func(m []byte) []string {
		if _, v, ok := envelope.Field(m, DefaultHeaders); ok {
			return envelope.Addresses(v)
		}
		return nil
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

// FuzzRoute checks that Route never panics, under each kind of router,
// and that any LIST and SUBQUEUE it returns are safe path components.
func FuzzRoute(f *testing.F) {
	for _, a := range fuzzAddresses(f) {
		for cfg := range uint8(8) {
			f.Add(a, cfg)
		}
	}
	known := filepath.Join(f.TempDir(), "lists")
	if err := os.WriteFile(known, []byte("# known lists\nmylist\nfoo-owner\nother\nfoo-bar\n"), 0o666); err != nil {
		f.Fatal(err)
	}
	lists, err := LoadLists(known)
	if err != nil {
		f.Fatal(err)
	}
	canonical := map[string]bool{"post": true, "bounces": true, "confirm": true, "join": true,
		"leave": true, "owner": true, "request": true}
	f.Fuzz(func(t *testing.T, addr string, cfg uint8) {
		r := Router{Full: cfg&1 != 0}
		if cfg&2 != 0 {
			r.Domains = []string{"lists.example.test", "local.example.test"}
			r.Prefix = "mailman-"
		}
		if cfg&4 != 0 {
			r.Known = lists
			r.Delims = "+-"
		}
		rt, err := r.Route(addr)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error of more than one line: %q", err)
			}
			return
		}
		if err := safename.List(rt.List); err != nil {
			t.Fatalf("Route(%q) LIST %q: %v", addr, rt.List, err)
		}
		if err := safename.Name(rt.Subqueue); err != nil || !canonical[rt.Subqueue] {
			t.Fatalf("Route(%q) SUBQUEUE %q: %v", addr, rt.Subqueue, err)
		}
		if !r.Full && strings.Contains(rt.List, "@") {
			t.Fatalf("Route(%q) LIST %q has a domain without -F", addr, rt.List)
		}
		if r.Known != nil && !r.Known.Has(strings.SplitN(rt.List, "@", 2)[0], "") {
			t.Fatalf("Route(%q) LIST %q is not known", addr, rt.List)
		}
		if hasControl(rt.Recipient) {
			t.Fatalf("Route(%q) recipient %q holds a control character", addr, rt.Recipient)
		}
	})
}
