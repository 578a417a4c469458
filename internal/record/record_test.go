package record

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	cases := []struct {
		line string
		want Record
		bad  bool
	}{
		{line: "/m/cur/B:1,P", want: Record{Path: "/m/cur/B:1,P"}},
		{line: "m/cur/B:1,P\tmylist\tpost\tmylist@x", want: Record{"m/cur/B:1,P", "mylist", "post", "mylist@x", 0, 0, ""}},
		{line: "p\tmylist@x\tbounces\tmylist-bounces+a=b@x", want: Record{"p", "mylist@x", "bounces", "mylist-bounces+a=b@x", 0, 0, ""}},
		{line: "p\tl\ts\t", want: Record{"p", "l", "s", "", 0, 0, ""}}, // an empty recipient is the target's to judge
		{line: "path with spaces", want: Record{Path: "path with spaces"}},
		{line: "", want: Record{}},
		{line: "p\tno such list", want: Record{Path: "p", Reason: "no such list"}},
		{line: "p\t-", want: Record{Path: "p", Reason: "-"}},
		{line: "\tno such list", want: Record{}, bad: true},
		{line: "p\tl\ts", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\textra", want: Record{Path: "p"}, bad: true},
		{line: "p\t\ts\tr", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\t\tr", want: Record{Path: "p"}, bad: true},
		{line: "\tl\ts\tr", want: Record{}, bad: true},
		{line: "p\t", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t1/3", want: Record{"p", "l", "s", "r", 1, 3, ""}},
		{line: "p\tl\ts\tr\t3/3", want: Record{"p", "l", "s", "r", 3, 3, ""}},
		{line: "p\tl\ts\tr\t1/1", want: Record{"p", "l", "s", "r", 1, 1, ""}},
		{line: "p\tl\ts\tr\t65536/65536", want: Record{"p", "l", "s", "r", 65536, 65536, ""}},
		{line: "p\tl\ts\tr\t4/3", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t0/3", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t1/0", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t1/65537", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t3", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t1/", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t/3", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t+1/+3", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t-1/3", want: Record{Path: "p"}, bad: true},
		{line: "p\tl\ts\tr\t1/3\textra", want: Record{Path: "p"}, bad: true},
	}
	for _, tc := range cases {
		got, err := Parse([]byte(tc.line))
		if (err != nil) != tc.bad {
			t.Errorf("Parse(%q) error = %v, want bad=%v", tc.line, err, tc.bad)
		}
		if tc.bad && err != ErrFields && err != ErrCount {
			t.Errorf("Parse(%q) error = %v, want ErrFields or ErrCount", tc.line, err)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("Parse(%q) (-want +got):\n%s", tc.line, d)
		}
		if got.Routed() != (got.List != "") {
			t.Errorf("Parse(%q).Routed() = %v", tc.line, got.Routed())
		}
	}
}

func TestPathOf(t *testing.T) {
	for line, want := range map[string]string{
		"a/cur/B:1,P":             "a/cur/B:1,P",
		"a/cur/B:1,P\tl\ts\tr":    "a/cur/B:1,P",
		"a\tb":                    "a",
		"":                        "",
		"\tl\ts\tr":               "",
		"/abs/path with space\tx": "/abs/path with space",
	} {
		if got := PathOf([]byte(line)); got != want {
			t.Errorf("PathOf(%q) = %q, want %q", line, got, want)
		}
	}
}

func TestCheckPath(t *testing.T) {
	for p, ok := range map[string]bool{
		"/m/cur/B:1,P":   true,
		"with space":     true,
		"caf\xc3\xa9":    true,
		"../../etc":      true, // a path, not a name: safename checks names
		"tab\there":      false,
		"newline\nhere":  false,
		"trailing\n":     false,
		"\t":             false,
		"cr\ris allowed": true,
	} {
		if err := CheckPath(p); (err == nil) != ok {
			t.Errorf("CheckPath(%q) = %v, want ok=%v", p, err, ok)
		}
	}
}

// TestRoundTrip checks that what a tool writes (fields joined by TAB) is
// what the next tool parses.
func TestRoundTrip(t *testing.T) {
	for _, r := range []Record{
		{Path: "/m/cur/1.2.h:1,P"},
		{Path: "m/cur/B:1,P", List: "mylist@lists.example.test", Subqueue: "bounces", Recipient: "mylist-bounces+a=b@lists.example.test"},
		{Path: "m/cur/B:1,P", List: "mylist", Subqueue: "post", Recipient: "mylist@x", Index: 2, Count: 7},
	} {
		line := r.Path
		if r.Routed() {
			line += "\t" + r.List + "\t" + r.Subqueue + "\t" + r.Recipient
		}
		if r.Counted() {
			line += "\t" + Count(r.Index, r.Count)
		}
		got, err := Parse([]byte(line))
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(r, got); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}

// FuzzParse: no line makes Parse panic, and a line it accepts is one the
// tools would write the same way.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"p", "p\tl\ts\tr", "p\tl\ts\tr\t1/2", "p\tl\ts\tr\t2/1", "p\tl\ts\tr\t1/", "p\t\t\t\t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := Parse([]byte(line))
		if err != nil || !r.Routed() {
			return
		}
		if r.Counted() && (r.Index < 1 || r.Index > r.Count || r.Count > MaxCount) {
			t.Fatalf("Parse(%q) = %d/%d", line, r.Index, r.Count)
		}
		again := r.Path + "\t" + r.List + "\t" + r.Subqueue + "\t" + r.Recipient
		if r.Counted() {
			again += "\t" + Count(r.Index, r.Count)
		}
		r2, err := Parse([]byte(again))
		if err != nil || r2 != r {
			t.Fatalf("Parse(%q) = %+v, but its own line %q gives %+v, %v", line, r, again, r2, err)
		}
	})
}

func TestCleanReason(t *testing.T) {
	long := strings.Repeat("é", 600) // 1200 bytes
	for in, want := range map[string]string{
		"no such list":                   "no such list",
		"command exited 100:\tnot\r\nOK": "command exited 100: not OK",
		"  \t\n":                         "-",
		"":                               "-",
		"bad \xff byte":                  "bad byte",
		"\x1b[31mred":                    "[31mred",
		long:                             strings.Repeat("é", 500),
	} {
		got := CleanReason(in)
		if got != want {
			t.Errorf("CleanReason(%q) = %q, want %q", in, got, want)
		}
		if r, err := Parse([]byte("p\t" + got)); err != nil || r.Reason != got {
			t.Errorf("Parse(p<TAB>%q) = %+v, %v", got, r, err)
		}
	}
}
