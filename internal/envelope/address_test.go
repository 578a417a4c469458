package envelope

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSplitAddress(t *testing.T) {
	cases := []struct {
		in            string
		local, domain string
		bad           bool
		err           error // when set, the error must be this one
	}{
		{in: "mylist@lists.example.test", local: "mylist", domain: "lists.example.test"},
		{in: "<mylist@lists.example.test>", local: "mylist", domain: "lists.example.test"},
		{in: "  < MyList@Lists.Example.TEST >  ", local: "mylist", domain: "lists.example.test"},
		{in: "a-b+c=d.e@x", local: "a-b+c=d.e", domain: "x"},
		{in: "caf\xc3\xa9@x", local: "caf\xc3\xa9", domain: "x"}, // refused later by safename, not here
		{in: "", bad: true, err: ErrEmptyAddress},
		{in: "<>", bad: true, err: ErrEmptyAddress},
		{in: "   ", bad: true, err: ErrEmptyAddress},
		{in: "mylist", bad: true, err: ErrNoAt},
		{in: "@x", bad: true},
		{in: "a@", bad: true},
		{in: "a@b@c", bad: true},
		{in: `"my list"@x`, bad: true},
		{in: `"a"@x`, bad: true},
		{in: "List <mylist@x>", bad: true},
		{in: "mylist@x (comment)", bad: true},
		{in: "<mylist@x", bad: true},
		{in: "mylist@x>", bad: true},
		{in: "<<mylist@x>>", bad: true},
		{in: "my list@x", bad: true},
		{in: "a\x00b@x", bad: true},
		{in: "a;b@x", bad: true},
		{in: `a\b@x`, bad: true},
		{in: "a@[127.0.0.1]", bad: true},
		{in: "a,b@x", bad: true},
		{in: "a\xffb@x", bad: true},
		{in: "a\u2028b@x", bad: true},
		{in: "a\u2029b@x", bad: true},
		{in: "a\xc2\x85b@x", bad: true}, // NEL
		{in: "a\u009fb@x", bad: true},
		{in: "a\u00a0b@x", local: "a\u00a0b", domain: "x"}, // past C1: refused later by safename, not here
	}
	for _, tc := range cases {
		local, domain, err := SplitAddress(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("SplitAddress(%q) = %q, %q; want an error", tc.in, local, domain)
			} else if tc.err != nil && !errors.Is(err, tc.err) {
				t.Errorf("SplitAddress(%q) error = %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("SplitAddress(%q): %v", tc.in, err)
			continue
		}
		if d := cmp.Diff([]string{tc.local, tc.domain}, []string{local, domain}); d != "" {
			t.Errorf("SplitAddress(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

func TestAddresses(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"a@x", []string{"a@x"}},
		{" a@x ", []string{"a@x"}},
		{"a@x, b@x", []string{"a@x", "b@x"}},
		{"a@x,b@x,", []string{"a@x", "b@x"}},
		{"a@x, b@x, c@x", []string{"a@x", "b@x", "c@x"}},
		{"<a@x>, <b@x>", []string{"<a@x>", "<b@x>"}},
		{"", nil},
		{" , ,", nil},
	}
	for _, tc := range cases {
		if d := cmp.Diff(tc.want, Addresses(tc.in)); d != "" {
			t.Errorf("Addresses(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}
