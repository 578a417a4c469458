package safename

import (
	"strings"
	"testing"
)

func TestName(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"mylist", true},
		{"my-list", true},
		{"my.list_2", true},
		{"0day", true},
		{"a", true},
		{"foo-owner", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 65), false},
		{"", false},
		{".", false},
		{"..", false},
		{"../../etc", false},
		{"a/b", false},
		{"/etc", false},
		{".hidden", false},
		{"-dash", false},
		{"_under", false},
		{"a\x00b", false},
		{"\x00", false},
		{"MyList", false},
		{"A", false},
		{"my list", false},
		{"a\tb", false},
		{"a\nb", false},
		{"list@example.org", false}, // only List takes a domain
		{"caf\xc3\xa9", false},
		{"a+b", false},
		{"a:b", false},
	}
	for _, tc := range cases {
		if err := Name(tc.in); (err == nil) != tc.ok {
			t.Errorf("Name(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

func TestList(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{"mylist", true},
		{"mylist@lists.example.test", true},
		{"my-list@a-b.example_x.test", true},
		{"mylist@localhost", true},
		{"mylist@" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 191), true}, // 255 bytes
		{"mylist@" + strings.Repeat("a", 63) + "." + strings.Repeat("b", 192), false},
		{"mylist@", false},
		{"@example.org", false},
		{"mylist@@example.org", false},
		{"mylist@a@b", false},
		{"mylist@Example.org", false},
		{"mylist@.example.org", false},
		{"mylist@example.org.", false},
		{"mylist@a..b", false},
		{"mylist@-a.b", false},
		{"mylist@..", false},
		{"mylist@../../etc", false},
		{"mylist@a/b", false},
		{"mylist@a\x00b", false},
		{"..@example.org", false},
		{".hidden@example.org", false},
		{"My-List@example.org", false},
		{strings.Repeat("a", 65) + "@example.org", false},
		{strings.Repeat("a", 64) + "@example.org", true},
		{"../../etc", false},
		{"a/b", false},
		{"", false},
	}
	for _, tc := range cases {
		if err := List(tc.in); (err == nil) != tc.ok {
			t.Errorf("List(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

// TestErrorsNameTheRule checks that a refusal says which rule was broken.
func TestErrorsNameTheRule(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "empty",
		strings.Repeat("a", 65): "longer than 64",
		".x":                    "must start with",
		"a/b":                   "outside",
	} {
		if err := Name(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Name(%q) = %v, want an error containing %q", in, err, want)
		}
	}
}
