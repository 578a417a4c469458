package route

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/envelope"
	"mdpipe/internal/testkit"

	"github.com/google/go-cmp/cmp"
)

// routeCase is one address through one Router. wantErr, when set, is a
// substring of the error; unknown says the error must be ErrUnknownList.
type routeCase struct {
	name    string
	rt      Router
	addr    string
	want    Route
	wantErr string
	unknown bool
}

func runRouteCases(t *testing.T, cases []routeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.rt.Route(tc.addr)
			switch {
			case tc.unknown:
				if !errors.Is(err, ErrUnknownList) {
					t.Fatalf("Route(%q) = %+v, %v; want ErrUnknownList", tc.addr, got, err)
				}
				return
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Route(%q) = %+v, %v; want an error containing %q", tc.addr, got, err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatalf("Route(%q): %v", tc.addr, err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Route(%q) (-want +got):\n%s", tc.addr, d)
			}
		})
	}
}

const dom = "lists.example.test"

func r(list, sub, rcpt string) Route { return Route{List: list, Subqueue: sub, Recipient: rcpt} }

// TestRouteDesignExamples covers every example of routing in mdroute(1).
func TestRouteDesignExamples(t *testing.T) {
	runRouteCases(t, []routeCase{
		{name: "post", addr: "mylist@" + dom, want: r("mylist", "post", "mylist@"+dom)},
		{name: "angle brackets", addr: "<mylist@" + dom + ">", want: r("mylist", "post", "mylist@"+dom)},
		{name: "request", addr: "mylist-request@" + dom, want: r("mylist", "request", "mylist-request@"+dom)},
		{name: "bounces", addr: "mylist-bounces@" + dom, want: r("mylist", "bounces", "mylist-bounces@"+dom)},
		{name: "VERP bounces", addr: "mylist-bounces+alice=example.org@" + dom,
			want: r("mylist", "bounces", "mylist-bounces+alice=example.org@"+dom)},
		{name: "confirm cookie", addr: "mylist-confirm+c0ffee@" + dom, want: r("mylist", "confirm", "mylist-confirm+c0ffee@"+dom)},
		{name: "join", addr: "mylist-join@" + dom, want: r("mylist", "join", "mylist-join@"+dom)},
		{name: "leave", addr: "mylist-leave@" + dom, want: r("mylist", "leave", "mylist-leave@"+dom)},
		{name: "owner", addr: "mylist-owner@" + dom, want: r("mylist", "owner", "mylist-owner@"+dom)},
		{name: "subscribe is join", addr: "mylist-subscribe@" + dom, want: r("mylist", "join", "mylist-subscribe@"+dom)},
		{name: "unsubscribe is leave", addr: "mylist-unsubscribe@" + dom, want: r("mylist", "leave", "mylist-unsubscribe@"+dom)},
		{name: "admin is bounces", addr: "mylist-admin@" + dom, want: r("mylist", "bounces", "mylist-admin@"+dom)},
		{name: "only the last -word", addr: "foo-bar-request@" + dom, want: r("foo-bar", "request", "foo-bar-request@"+dom)},
		{name: "dash word that is no subqueue", addr: "foo-bar@" + dom, want: r("foo-bar", "post", "foo-bar@"+dom)},
		{name: "subqueue word in the extension only", addr: "mylist+owner@" + dom, want: r("mylist", "post", "mylist+owner@"+dom)},
		{name: "bare subqueue word is a list", addr: "owner@" + dom, want: r("owner", "post", "owner@"+dom)},
		{name: "case folded", addr: "MyList-Bounces+Alice=Example.ORG@Lists.Example.TEST",
			want: r("mylist", "bounces", "mylist-bounces+alice=example.org@"+dom)},
		{name: "case folded suffix", addr: "My-List-ADMIN@" + dom, want: r("my-list", "bounces", "my-list-admin@"+dom)},
		{name: "unsafe list: dot-dot", addr: "..@" + dom, wantErr: "list"},
		{name: "unsafe list: leading dot", addr: ".hidden@" + dom, wantErr: "list"},
		{name: "unsafe list: empty before suffix", addr: "-bounces@" + dom, wantErr: "list"},
		{name: "unsafe list: slash", addr: "a/b@" + dom, wantErr: "list"},
		{name: "unsafe list: 65 bytes", addr: strings.Repeat("a", 65) + "@" + dom, wantErr: "longer than 64"},
		{name: "64 bytes is fine", addr: strings.Repeat("a", 64) + "-owner@" + dom,
			want: r(strings.Repeat("a", 64), "owner", strings.Repeat("a", 64)+"-owner@"+dom)},
		{name: "no domain", addr: "mylist", wantErr: "@domain"},
		{name: "display name refused", addr: "List <mylist@" + dom + ">", wantErr: "not a bare"},
	})
}

func TestRoutePrefix(t *testing.T) {
	p := Router{Prefix: "mailman-"}
	runRouteCases(t, []routeCase{
		{name: "stripped", rt: p, addr: "mailman-mylist@" + dom, want: r("mylist", "post", "mylist@"+dom)},
		{name: "stripped with suffix and extension", rt: p, addr: "mailman-mylist-bounces+a=b.c@" + dom,
			want: r("mylist", "bounces", "mylist-bounces+a=b.c@"+dom)},
		{name: "absent prefix is not required", rt: p, addr: "mylist-owner@" + dom, want: r("mylist", "owner", "mylist-owner@"+dom)},
		{name: "prefix matched after case folding", rt: p, addr: "MailMan-MyList@" + dom, want: r("mylist", "post", "mylist@"+dom)},
		{name: "upper-case prefix flag", rt: Router{Prefix: "MAILMAN-"}, addr: "mailman-mylist@" + dom, want: r("mylist", "post", "mylist@"+dom)},
		{name: "stripped once only", rt: p, addr: "mailman-mailman-x@" + dom, want: r("mailman-x", "post", "mailman-x@"+dom)},
		{name: "prefix alone leaves nothing", rt: p, addr: "mailman-@" + dom, wantErr: "list"},
	})
}

func TestRouteDelimiters(t *testing.T) {
	runRouteCases(t, []routeCase{
		{name: "default is plus", addr: "mylist-bounces+x@" + dom, want: r("mylist", "bounces", "mylist-bounces+x@"+dom)},
		{name: "first delimiter cuts", addr: "mylist+a+b@" + dom, want: r("mylist", "post", "mylist+a+b@"+dom)},
		{name: "hash only", rt: Router{Delims: "#"}, addr: "mylist-bounces#alice=example.org@" + dom,
			want: r("mylist", "bounces", "mylist-bounces#alice=example.org@"+dom)},
		{name: "hash only: plus is no delimiter", rt: Router{Delims: "#"}, addr: "mylist+x@" + dom, wantErr: "list"},
		{name: "plus and hash", rt: Router{Delims: "+#"}, addr: "mylist-confirm#c0ffee@" + dom,
			want: r("mylist", "confirm", "mylist-confirm#c0ffee@"+dom)},
		{name: "plus and hash: the first of either", rt: Router{Delims: "+#"}, addr: "mylist#a+b@" + dom,
			want: r("mylist", "post", "mylist#a+b@"+dom)},
	})
}

func TestRouteDomains(t *testing.T) {
	d := Router{Domains: []string{dom, "other.test"}}
	runRouteCases(t, []routeCase{
		{name: "accepted", rt: d, addr: "mylist@" + dom, want: r("mylist", "post", "mylist@"+dom)},
		{name: "second accepted", rt: d, addr: "mylist-owner@Other.Test", want: r("mylist", "owner", "mylist-owner@other.test")},
		{name: "not accepted", rt: d, addr: "mylist@elsewhere.test", wantErr: "not a list domain"},
		{name: "subdomain not accepted", rt: d, addr: "mylist@sub." + dom, wantErr: "not a list domain"},
	})
}

func TestRouteFull(t *testing.T) {
	f := Router{Full: true}
	runRouteCases(t, []routeCase{
		{name: "list at domain", rt: f, addr: "MyList-Request@Lists.Example.TEST",
			want: r("mylist@"+dom, "request", "mylist-request@"+dom)},
		{name: "post", rt: f, addr: "foo-bar@other.test", want: r("foo-bar@other.test", "post", "foo-bar@other.test")},
		{name: "unsafe domain", rt: f, addr: "mylist@a..b", wantErr: "domain"},
		{name: "domain with a slash", rt: f, addr: "mylist@a/b", wantErr: "domain"},
		{name: "domain too long", rt: f, addr: "mylist@" + strings.Repeat("a", 256), wantErr: "255"},
	})
}

// knownCases run against both forms of -l: a file and a directory.
func knownCases(k *Lists) []routeCase {
	kr := Router{Known: k}
	kf := Router{Known: k, Full: true}
	return []routeCase{
		{name: "known list", rt: kr, addr: "mylist@" + dom, want: r("mylist", "post", "mylist@"+dom)},
		{name: "known list owner", rt: kr, addr: "mylist-owner@" + dom, want: r("mylist", "owner", "mylist-owner@"+dom)},
		{name: "exact name wins", rt: kr, addr: "foo-owner@" + dom, want: r("foo-owner", "post", "foo-owner@"+dom)},
		{name: "exact name wins, with extension", rt: kr, addr: "foo-owner+x@" + dom, want: r("foo-owner", "post", "foo-owner+x@"+dom)},
		{name: "suffix of an exact name", rt: kr, addr: "foo-owner-request@" + dom, want: r("foo-owner", "request", "foo-owner-request@"+dom)},
		{name: "exact name wins with -F", rt: kf, addr: "foo-owner@" + dom, want: r("foo-owner@"+dom, "post", "foo-owner@"+dom)},
		{name: "known by list@domain", rt: kr, addr: "multi-bounces@" + dom, want: r("multi", "bounces", "multi-bounces@"+dom)},
		{name: "list@domain entry is for that domain only", rt: kr, addr: "multi@other.test", unknown: true},
		{name: "unknown list", rt: kr, addr: "nosuch@" + dom, unknown: true},
		{name: "unknown list with a suffix", rt: kr, addr: "foo-bounces@" + dom, unknown: true},
		{name: "unsafe name never looked up", rt: kr, addr: "..@" + dom, wantErr: "list"},
	}
}

func TestRouteKnownListsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lists")
	writeFile(t, path, "# lists of this site\nmylist\n  Foo-Owner  # a list named like a subqueue\n\nmulti@"+dom+"\n")
	k, err := LoadLists(path)
	if err != nil {
		t.Fatal(err)
	}
	runRouteCases(t, knownCases(k))
}

func TestRouteKnownListsDir(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"mylist", "foo-owner", "multi@" + dom} {
		if err := os.Mkdir(filepath.Join(dir, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// A Mailman 2.1 lists/ directory may hold files as well as directories.
	writeFile(t, filepath.Join(dir, "README"), "not a list\n")
	k, err := LoadLists(dir)
	if err != nil {
		t.Fatal(err)
	}
	runRouteCases(t, knownCases(k))
}

// TestKnownListsLive checks that lists created while mdroute runs become
// known: a directory at once, a file once it changes (checked each second).
func TestKnownListsLive(t *testing.T) {
	dir := t.TempDir()
	kd, err := LoadLists(dir)
	if err != nil {
		t.Fatal(err)
	}
	if kd.Has("newlist", dom) {
		t.Fatal("directory: newlist known before it exists")
	}
	if err := os.Mkdir(filepath.Join(dir, "newlist"), 0o755); err != nil {
		t.Fatal(err)
	}
	if !kd.Has("newlist", dom) {
		t.Error("directory: newlist not known at once after mkdir")
	}

	file := filepath.Join(t.TempDir(), "lists")
	writeFile(t, file, "mylist\n")
	kf, err := LoadLists(file)
	if err != nil {
		t.Fatal(err)
	}
	if kf.Has("newlist", dom) {
		t.Fatal("file: newlist known before it is added")
	}
	writeFile(t, file, "mylist\nnewlist\n")
	testkit.Poll(t, 10*time.Second, "file: newlist known after it was added", func() bool { return kf.Has("newlist", dom) })
}

func TestLoadListsMissing(t *testing.T) {
	if _, err := LoadLists(filepath.Join(t.TempDir(), "nosuch")); !os.IsNotExist(err) {
		t.Errorf("LoadLists(missing) = %v, want a not-exist error", err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestKnownListsDirStaysInside checks that a hostile domain cannot make a
// directory lookup leave the known-lists directory (an unknown list must
// not become known because some path outside it exists).
func TestKnownListsDirStaysInside(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "lists")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "outside"), "")
	k, err := LoadLists(dir)
	if err != nil {
		t.Fatal(err)
	}
	runRouteCases(t, []routeCase{
		{name: "dot-dot domain", rt: Router{Known: k}, addr: "nosuch@x/../../outside", unknown: true},
		{name: "dot-dot domain, suffix", rt: Router{Known: k}, addr: "nosuch-owner@x/../../outside", unknown: true},
	})
}

// TestHugeAddress feeds a 10,000-byte local part through the parser and the
// router: no panic, an error, and an error short enough for one log line.
func TestHugeAddress(t *testing.T) {
	huge := strings.Repeat("a", 10000)
	for _, addr := range []string{
		huge + "@x",
		huge + "-bounces+v@x",
		"<" + huge + "@x>",
		`"` + huge + `"@x`,
		huge, // no @ at all
		"a@" + huge,
	} {
		envelope.SplitAddress(addr) // must not panic
		var rt Router
		got, err := rt.Route(addr)
		if strings.HasPrefix(addr, "a@") {
			// A huge domain is no path component without -F.
			if err != nil || got.List != "a" {
				t.Errorf("Route(a@<10000 bytes>) = %+v, %v", got.List, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("Route(%.20q...) = %+v, want an error", addr, got.List)
			continue
		}
		if n := len(err.Error()); n > 300 {
			t.Errorf("Route(%.20q...): error of %d bytes floods the log", addr, n)
		}
	}
	full := Router{Full: true}
	if _, err := full.Route("a@" + strings.Repeat("b", 10000)); err == nil || len(err.Error()) > 300 {
		t.Errorf("Route -F with a huge domain: %.100v", err)
	}
}
