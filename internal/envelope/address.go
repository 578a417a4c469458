package envelope

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
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
	if badText(a) || strings.ContainsAny(a, " \"()<>,;\\[]") {
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

// isControl reports the characters no address may hold: the ASCII
// controls, the C1 controls U+0080..U+009F (NEL, U+0085, ends a line for
// some readers) and the line and paragraph separators U+2028 and U+2029.
// Each can end or split a line in a log, a record or a script that
// reads a command's environment.
func isControl(r rune) bool {
	return r < ' ' || r == 0x7f || 0x80 <= r && r <= 0x9f || r == 0x2028 || r == 0x2029
}

// badText reports whether s is not UTF-8 or holds a control character
// (isControl): bytes that are not UTF-8 reach a command's environment as
// they are, and no script can tell what they end.
func badText(s string) bool {
	return !utf8.ValidString(s) || strings.IndexFunc(s, isControl) >= 0
}

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
