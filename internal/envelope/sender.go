package envelope

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxPath bounds an envelope address, sender or recipient: RFC 5321's
// 256-octet path less its angle brackets. Nothing longer is mail an SMTP
// server could have accepted, and the bound keeps a command's environment
// far from the kernel's limit.
const MaxPath = 254

// Sender returns the envelope sender a Return-Path field's value names,
// "" for the null sender <>, or why it is not one. The field is the
// topmost; OpenSMTPD writes none for <>, so the sender may have written
// it. What passes is one bare local@domain that can go into
// `MAIL FROM:<...>` and a command's environment as it is: at most MaxPath
// bytes of UTF-8, no control character, no space, none of <>()[],;:"\
// outside a domain literal, so nothing can end the address or add a
// parameter. Case is kept: a local part may be case-sensitive. qmail's
// double-bounce sender #@[] passes.
func Sender(value string) (string, error) {
	// Blanks only: a CR or LF left in the value is the sender's.
	a := strings.Trim(value, " \t")
	if strings.HasPrefix(a, "<") && strings.HasSuffix(a, ">") {
		a = strings.Trim(a[1:len(a)-1], " \t")
	}
	if a == "" {
		return "", nil
	}
	bad := func(why string) (string, error) {
		// Clipped short: %q may make each byte four.
		short := a
		if len(short) > 40 {
			short = short[:40] + "..."
		}
		return "", fmt.Errorf("sender %q %s", short, why)
	}
	if len(a) > MaxPath {
		return bad(fmt.Sprintf("is longer than %d bytes", MaxPath))
	}
	if !utf8.ValidString(a) {
		return bad("is not UTF-8")
	}
	if strings.IndexFunc(a, isControl) >= 0 {
		return bad("holds a control character")
	}
	at := strings.LastIndexByte(a, '@')
	if at <= 0 || at == len(a)-1 {
		return bad("is not local@domain")
	}
	local, domain := a[:at], a[at+1:]
	if strings.ContainsAny(local, " \"()<>,;:\\[]@") {
		return bad("is not a bare local@domain")
	}
	if local[0] == '-' {
		// A command may pass $SENDER on to sendmail -f, whose option
		// parser would take it for an option.
		return bad("begins with '-'")
	}
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		for _, c := range domain[1 : len(domain)-1] {
			if !isAlnum(c) && c != '.' && c != ':' {
				return bad("has a bad domain literal")
			}
		}
		return a, nil
	}
	if err := checkDomain(domain); err != nil {
		return bad(err.Error())
	}
	return a, nil
}

// CheckRecipient checks a recipient before its parts become a command's
// RECIPIENT, LOCAL, HOST, EXT, DEFAULT and DETAIL, or an LMTP RCPT TO: a
// bare local@domain (SplitAddress) of at most MaxPath bytes, whose domain
// is a host name (labels of [A-Za-z0-9_-], none beginning with "-") and
// whose local part holds no "/" and no "..", and does not begin with "-".
// A script that makes a path of HOST or DETAIL can then not leave its
// directory, and one that passes LOCAL or HOST to a program never passes
// an option.
func CheckRecipient(r string) error {
	if badText(r) || strings.ContainsAny(r, " \t<>") {
		return fmt.Errorf("recipient %q is not a bare local@domain", clip(r))
	}
	local, domain, err := SplitAddress(r)
	if err != nil {
		return err
	}
	if len(r) > MaxPath {
		return fmt.Errorf("recipient %q is longer than %d bytes", clip(r), MaxPath)
	}
	if strings.Contains(local, "/") || strings.Contains(local, "..") {
		return fmt.Errorf("recipient %q has a / or .. in its local part", clip(r))
	}
	if local[0] == '-' {
		return fmt.Errorf("recipient %q begins with '-'", clip(r))
	}
	if err := checkDomain(domain); err != nil {
		return fmt.Errorf("recipient %q %v", clip(r), err)
	}
	return nil
}

// checkDomain checks a host name: dot-separated labels of [A-Za-z0-9_-],
// none empty and none beginning with "-" (no host name does, and a
// program handed HOST would take "-..." for an option), at most 255
// bytes. This excludes "/", ".." and any control.
func checkDomain(d string) error {
	if d == "" || len(d) > 255 {
		return fmt.Errorf("has a domain of %d bytes", len(d))
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" {
			return fmt.Errorf("has an empty domain label")
		}
		if label[0] == '-' {
			return fmt.Errorf("has a domain label beginning with '-'")
		}
		for _, c := range label {
			if !isAlnum(c) && c != '-' && c != '_' {
				return fmt.Errorf("has a domain outside [A-Za-z0-9._-]")
			}
		}
	}
	return nil
}

func isAlnum(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
