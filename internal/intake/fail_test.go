package intake

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"mdpipe/internal/fsx"
)

func TestFail(t *testing.T) {
	bothRenames(t, func(t *testing.T) {
		md := newMaildir(t)
		p := put(t, md, "cur/1.a:1,P")
		x, err := park(p)
		if err != nil {
			t.Fatal(err)
		}
		if x != md+"/cur/1.a:1,X" {
			t.Errorf("Fail returned %q", x)
		}
		if d := cmp.Diff([]string{"1.a:1,X"}, ls(t, md, "cur")); d != "" {
			t.Errorf("cur/ (-want +got):\n%s", d)
		}
		// Again: the claim is gone and its X is there, parked already.
		if x2, err := park(p); !errors.Is(err, ErrParked) || x2 != x {
			t.Errorf("second Fail = %q, %v; want %q, ErrParked", x2, err, x)
		}
	})
}

// TestFailRefuses checks that anything but a claim is refused, untouched.
func TestFailRefuses(t *testing.T) {
	md := newMaildir(t)
	for _, rel := range []string{
		"new/1.a",
		"new/1.a:1,P",
		"cur/2.b",
		"cur/2.b:2,S",
		"cur/3.c:1,X",
		"cur/.4.d:1,P",
		"cur/5.e:1,P:1,P",
		"cur/6.f:1,Px",
		"tmp/7.g:1,P",
	} {
		p := put(t, md, rel)
		before, _ := os.ReadFile(p)
		if x, err := park(p); !errors.Is(err, ErrNotClaim) {
			t.Errorf("Fail(%s) = %q, %v; want ErrNotClaim", rel, x, err)
		}
		if after, err := os.ReadFile(p); err != nil || string(after) != string(before) {
			t.Errorf("%s was touched: %v", rel, err)
		}
	}
	if got := ls(t, md, "cur"); len(got) != 6 {
		t.Errorf("cur/ = %q, want the 6 files as they were", got)
	}
}

// TestFailNotRegular refuses a claim-named symlink or directory: Fail
// acts on messages only (mdpipe(7), RULES: regular files only).
func TestFailNotRegular(t *testing.T) {
	md := newMaildir(t)
	target := put(t, md, "tmp/t")
	link := putLink(t, md, "cur/1.a:1,P", target)
	dir := putDir(t, md, "cur/2.b:1,P")
	for _, p := range []string{link, dir} {
		if x, err := park(p); !errors.Is(err, fsx.ErrNotRegular) {
			t.Errorf("Fail(%s) = %q, %v; want ErrNotRegular", p, x, err)
		}
	}
	if d := cmp.Diff([]string{"1.a:1,P", "2.b:1,P"}, ls(t, md, "cur")); d != "" {
		t.Errorf("cur/ (-want +got):\n%s", d)
	}
}

// TestFailXExists covers a claim whose X already exists: the same inode is
// a park cut short by link+unlink (finish it), another file is two
// messages with one name (refuse, keep both).
func TestFailXExists(t *testing.T) {
	md := newMaildir(t)
	p := put(t, md, "cur/1.a:1,P")
	if err := os.Link(p, filepath.Join(md, "cur", "1.a:1,X")); err != nil {
		t.Fatal(err)
	}
	if x, err := park(p); !errors.Is(err, ErrParked) || x != md+"/cur/1.a:1,X" {
		t.Errorf("Fail(half-parked) = %q, %v; want ErrParked", x, err)
	}
	if d := cmp.Diff([]string{"1.a:1,X"}, ls(t, md, "cur")); d != "" {
		t.Errorf("cur/ after finishing the park (-want +got):\n%s", d)
	}

	q := put(t, md, "cur/2.b:1,P")
	put(t, md, "cur/2.b:1,X")
	if err := os.WriteFile(q, []byte("another message"), 0o600); err != nil {
		t.Fatal(err)
	}
	if x, err := park(q); err == nil || errors.Is(err, ErrParked) || !strings.Contains(err.Error(), "another message") {
		t.Errorf("Fail(clash) = %q, %v; want an error", x, err)
	}
	if b, _ := os.ReadFile(q); string(b) != "another message" {
		t.Errorf("the claim was touched: %q", b)
	}
	if d := cmp.Diff([]string{"1.a:1,X", "2.b:1,P", "2.b:1,X"}, ls(t, md, "cur")); d != "" {
		t.Errorf("cur/ (-want +got):\n%s", d)
	}
}

func TestFailGone(t *testing.T) {
	md := newMaildir(t)
	if _, err := park(filepath.Join(md, "cur", "1.a:1,P")); err == nil || errors.Is(err, ErrParked) {
		t.Errorf("Fail(missing, no X) = %v, want an error", err)
	}
}

func TestParseClaim(t *testing.T) {
	cases := []struct {
		path string
		want Claim
		bad  bool
	}{
		{path: "/var/mail/in/cur/1.a.host:1,P", want: Claim{Path: "/var/mail/in/cur/1.a.host:1,P", Maildir: "/var/mail/in", Cur: "/var/mail/in/cur", Base: "1.a.host"}},
		{path: "in/cur/B:1,P", want: Claim{Path: "in/cur/B:1,P", Maildir: "in", Cur: "in/cur", Base: "B"}},
		{path: "cur/B:1,P", want: Claim{Path: "cur/B:1,P", Maildir: ".", Cur: "cur", Base: "B"}},
		{path: "./in//cur/B:1,P", want: Claim{Path: "./in//cur/B:1,P", Maildir: "in", Cur: "in/cur", Base: "B"}},
		{path: "B:1,P", bad: true},
		{path: "in/new/B:1,P", bad: true},
		{path: "in/cur/B:1,X", bad: true},
		{path: "in/cur/B:2,S", bad: true},
		{path: "in/cur/B", bad: true},
		{path: "in/cur/:1,P", bad: true},
		{path: "in/cur/.B:1,P", bad: true},
		{path: "in/cur/B:1,P:1,P", bad: true},
		{path: "in/cur/B:1,P/", bad: true},
		{path: "", bad: true},
	}
	for _, tc := range cases {
		got, err := ParseClaim(tc.path)
		if tc.bad {
			if !errors.Is(err, ErrNotClaim) {
				t.Errorf("ParseClaim(%q) = %+v, %v; want ErrNotClaim", tc.path, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseClaim(%q): %v", tc.path, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("ParseClaim(%q) (-want +got):\n%s", tc.path, d)
		}
	}
	c, _ := ParseClaim("in/cur/B:1,P")
	if d := cmp.Diff([]string{"in/cur/B:1,X", "in/new/B"}, []string{c.FailPath(), c.NewPath()}); d != "" {
		t.Errorf("FailPath, NewPath (-want +got):\n%s", d)
	}
}

func TestBase(t *testing.T) {
	for in, want := range map[string]string{
		"1.a.host":     "1.a.host",
		"1.a.host:1,P": "1.a.host",
		"1.a.host:2,S": "1.a.host",
		"a:b:c":        "a",
		":1,P":         "",
	} {
		if got := Base(in); got != want {
			t.Errorf("Base(%q) = %q, want %q", in, got, want)
		}
	}
}
