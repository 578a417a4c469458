package envelope

import (
	"errors"
	"fmt"
	"strings"
)

// Errors of address parsing.
var (
	ErrEmptyAddress = errors.New("empty address")
	ErrNoAt         = errors.New("address has no @domain")
)

// Addresses splits an envelope header value into its addresses. Exim may
// batch several recipients into one Envelope-to, separated by commas.
func Addresses(value string) []string {
	var out []string
	for _, a := range strings.Split(value, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// SplitAddress parses a bare local@domain (angle brackets tolerated) and
// folds its case. Quoted local parts, comments and display names are not
// what an MTA writes into an envelope header, and are refused.
func SplitAddress(a string) (local, domain string, err error) {
	a = strings.TrimSpace(a)
	if strings.HasPrefix(a, "<") && strings.HasSuffix(a, ">") {
		a = strings.TrimSpace(a[1 : len(a)-1])
	}
	if a == "" {
		return "", "", ErrEmptyAddress
	}
	// Control characters too: a CR in a header line's middle survives
	// unfolding, and must not reach a record, an environment or RCPT TO.
	if strings.IndexFunc(a, isControl) >= 0 || strings.ContainsAny(a, " \"()<>,;\\[]") {
		return "", "", fmt.Errorf("address %q is not a bare local@domain", clip(a))
	}
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return "", "", ErrNoAt
	}
	local, domain = a[:at], a[at+1:]
	if local == "" || domain == "" || strings.IndexByte(local, '@') >= 0 {
		return "", "", fmt.Errorf("address %q is not a bare local@domain", clip(a))
	}
	return lower(local), lower(domain), nil
}

func isControl(r rune) bool { return r < ' ' || r == 0x7f }

// lower folds ASCII case only: the safe alphabet is ASCII, and anything
// else is refused later with the name shown as it came.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// clip keeps a hostile 10,000-byte address from flooding the log line.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "..."
	}
	return s
}
