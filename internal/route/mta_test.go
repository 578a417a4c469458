package route

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mdpipe/internal/envelope"

	"github.com/google/go-cmp/cmp"
)

// mtaDir holds real deliveries by Postfix and Exim (testdata/mta/README.md).
const mtaDir = "../../testdata/mta"

// mtaRouters is the mdroute set-up of each delivery folder. Postfix
// local(8) delivers list mail to listbox+LIST (recipient_delimiter +), so
// that site strips the prefix "listbox+", as qmail virtual domains do.
var mtaRouters = map[string]Router{
	"postfix/virtual":             {Domains: []string{"lists.example.test"}},
	"postfix/local-home-maildir":  {Prefix: "listbox+"},
	"postfix/local-alias-maildir": {},
	"exim/lists":                  {Domains: []string{"lists.example.test"}},
	"exim/batch":                  {},
}

// mtaWant is where each RCPT TO of testdata/mta/index.tsv must go, written
// out by hand from mdroute(1) DESCRIPTION (keyed by the lower-cased address).
var mtaWant = map[string]Route{
	"mylist@lists.example.test":                           r("mylist", "post", "mylist@lists.example.test"),
	"mylist-request@lists.example.test":                   r("mylist", "request", "mylist-request@lists.example.test"),
	"mylist-bounces@lists.example.test":                   r("mylist", "bounces", "mylist-bounces@lists.example.test"),
	"mylist-bounces+alice=example.org@lists.example.test": r("mylist", "bounces", "mylist-bounces+alice=example.org@lists.example.test"),
	"mylist-confirm+0123456789abcdef@lists.example.test":  r("mylist", "confirm", "mylist-confirm+0123456789abcdef@lists.example.test"),
	"mylist-join@lists.example.test":                      r("mylist", "join", "mylist-join@lists.example.test"),
	"mylist-leave@lists.example.test":                     r("mylist", "leave", "mylist-leave@lists.example.test"),
	"mylist-owner@lists.example.test":                     r("mylist", "owner", "mylist-owner@lists.example.test"),
	"mylist-subscribe@lists.example.test":                 r("mylist", "join", "mylist-subscribe@lists.example.test"),
	"mylist-unsubscribe@lists.example.test":               r("mylist", "leave", "mylist-unsubscribe@lists.example.test"),
	"mylist-admin@lists.example.test":                     r("mylist", "bounces", "mylist-admin@lists.example.test"),
	"my-list@lists.example.test":                          r("my-list", "post", "my-list@lists.example.test"),
	"foo-bar@lists.example.test":                          r("foo-bar", "post", "foo-bar@lists.example.test"),
	"foo-bar-request@lists.example.test":                  r("foo-bar", "request", "foo-bar-request@lists.example.test"),
	"foo-bar-bounces+bob=example.net@lists.example.test":  r("foo-bar", "bounces", "foo-bar-bounces+bob=example.net@lists.example.test"),
	"other@lists.example.test":                            r("other", "post", "other@lists.example.test"),
	"listbox@local.example.test":                          r("listbox", "post", "listbox@local.example.test"),
	"listbox+mylist-bounces@local.example.test":           r("mylist", "bounces", "mylist-bounces@local.example.test"),
	"listbox+mylist@local.example.test":                   r("mylist", "post", "mylist@local.example.test"),
	"listbox+mylist-request@local.example.test":           r("mylist", "request", "mylist-request@local.example.test"),
	"listbox+x@local.example.test":                        r("x", "post", "x@local.example.test"),
	"mylist@local.example.test":                           r("mylist", "post", "mylist@local.example.test"),
	"mylist-bounces+alice=example.org@local.example.test": r("mylist", "bounces", "mylist-bounces+alice=example.org@local.example.test"),
	"mylist-request@local.example.test":                   r("mylist", "request", "mylist-request@local.example.test"),
	"aliasmd@local.example.test":                          r("aliasmd", "post", "aliasmd@local.example.test"),
	"aliasmd+foo@local.example.test":                      r("aliasmd", "post", "aliasmd+foo@local.example.test"),
	"mylist@batch.example.test":                           r("mylist", "post", "mylist@batch.example.test"),
	"other@batch.example.test":                            r("other", "post", "other@batch.example.test"),
	"mylist-bounces+alice=example.org@batch.example.test": r("mylist", "bounces", "mylist-bounces+alice=example.org@batch.example.test"),
	"mylist-bounces+bob=example.net@batch.example.test":   r("mylist", "bounces", "mylist-bounces+bob=example.net@batch.example.test"),
}

type mtaRow struct {
	file, mta, kase string
	rcpts           []string // SMTP RCPT TO of the transaction, lower-cased
}

func readIndex(t *testing.T) []mtaRow {
	t.Helper()
	f, err := os.Open(filepath.Join(mtaDir, "index.tsv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []mtaRow
	sc := bufio.NewScanner(f)
	for first := true; sc.Scan(); first = false {
		if first {
			continue // the column names
		}
		col := strings.Split(sc.Text(), "\t")
		if len(col) < 4 {
			t.Fatalf("index.tsv: short row %q", sc.Text())
		}
		rows = append(rows, mtaRow{file: col[0], mta: col[1], kase: col[2], rcpts: strings.Fields(strings.ToLower(col[3]))})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rows
}

// TestRouteMTADeliveries routes every delivery in testdata/mta: the
// topmost envelope field of each file must name addresses of its SMTP
// transaction, and each must route where mdroute(1) says.
func TestRouteMTADeliveries(t *testing.T) {
	rows := readIndex(t)
	if len(rows) < 50 {
		t.Fatalf("index.tsv has %d deliveries, want the 52 of the fixtures", len(rows))
	}
	var hr envelope.HeaderReader
	folders := map[string]int{}
	for _, row := range rows {
		t.Run(row.file, func(t *testing.T) {
			folder := filepath.Dir(filepath.Dir(row.file)) // postfix/virtual from postfix/virtual/new/B
			rt, ok := mtaRouters[folder]
			if !ok {
				t.Fatalf("no router set-up for folder %s", folder)
			}
			folders[folder]++
			hdr, err := hr.ReadFile(filepath.Join(mtaDir, row.file))
			if err != nil {
				t.Fatal(err)
			}
			name, value, ok := envelope.Field(hdr, DefaultHeaders)
			if !ok {
				t.Fatal("no envelope header found")
			}
			wantName := "X-Original-To" // Postfix writes it above Delivered-To
			if strings.HasPrefix(row.mta, "exim") {
				wantName = "Envelope-to"
			}
			if name != wantName {
				t.Errorf("topmost envelope field is %s, want %s", name, wantName)
			}
			addrs := envelope.Addresses(value)
			var got, want []Route
			for _, a := range addrs {
				if !contains(row.rcpts, strings.ToLower(a)) {
					t.Errorf("header address %q is not one of the RCPT TO %q", a, row.rcpts)
				}
				w, ok := mtaWant[strings.ToLower(a)]
				if !ok {
					t.Fatalf("no expected route for %q: add it to mtaWant", a)
				}
				want = append(want, w)
				rte, err := rt.Route(a)
				if err != nil {
					t.Errorf("Route(%q): %v", a, err)
				}
				got = append(got, rte)
			}
			// A batched Exim delivery names every recipient in one file.
			if strings.Contains(row.mta, "batch") && len(addrs) != len(row.rcpts) {
				t.Errorf("batched delivery: header names %d addresses %q, want all %d RCPT TO", len(addrs), addrs, len(row.rcpts))
			}
			if len(addrs) == 0 {
				t.Error("envelope header holds no address")
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("routes (-want +got):\n%s", d)
			}
		})
	}
	for folder := range mtaRouters {
		if folders[folder] == 0 {
			t.Errorf("no delivery of folder %s was routed", folder)
		}
	}
}

// TestRouteMTAFilesIndexed makes sure no delivery file escapes the index,
// and so the test above.
func TestRouteMTAFilesIndexed(t *testing.T) {
	indexed := map[string]bool{}
	for _, row := range readIndex(t) {
		indexed[row.file] = true
	}
	files, err := filepath.Glob(filepath.Join(mtaDir, "*", "*", "new", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no delivery files found")
	}
	for _, f := range files {
		rel, _ := filepath.Rel(mtaDir, f)
		if !indexed[rel] {
			t.Errorf("%s is not in index.tsv", rel)
		}
	}
}

// TestForwardedFixtureTopmost checks the forwarded deliveries by hand: the
// older Delivered-To lower down (someone@elsewhere.test) is never used.
func TestForwardedFixtureTopmost(t *testing.T) {
	for _, file := range []string{
		"postfix/virtual/new/1795893887.Vfe00Ib80caM186453.vm",
		"postfix/local-home-maildir/new/1795893898.Vfe00Ib80e0M306619.vm",
		"exim/lists/new/1795894069.M593162P12768.mx.example.test",
	} {
		var hr envelope.HeaderReader
		hdr, err := hr.ReadFile(filepath.Join(mtaDir, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(hdr), "someone@elsewhere.test") {
			t.Fatalf("%s: fixture lacks the older Delivered-To", file)
		}
		for _, names := range [][]string{DefaultHeaders, {"Delivered-To"}, {"X-Original-To"}} {
			_, v, ok := envelope.Field(hdr, names)
			if strings.HasPrefix(file, "exim") && len(names) == 1 {
				// Exim writes no Delivered-To of its own: the old one is
				// the only one there, and that is why -H must be right.
				continue
			}
			if !ok || strings.Contains(v, "elsewhere") {
				t.Errorf("%s: Field(%q) = %q, %v; want this hop's recipient", file, names, v, ok)
			}
		}
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
