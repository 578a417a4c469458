// Package safename checks list and subqueue names before they become path
// components (mdpipe(7), RULES: nothing outside QUEUE): nothing is ever
// written outside QUEUE.
package safename

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of nothing outside QUEUE (mdpipe(7), RULES).
const (
	MaxName   = 64
	MaxDomain = 255
)

// Name checks a name: lowercase [a-z0-9] then [a-z0-9._-], at most 64
// bytes. This excludes "/", a leading dot, ".", ".." and NUL.
func Name(s string) error {
	if s == "" {
		return errors.New("empty name")
	}
	if len(s) > MaxName {
		return fmt.Errorf("name longer than %d bytes", MaxName)
	}
	if !alnum(s[0]) {
		return fmt.Errorf("name %q must start with [a-z0-9]", s)
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("name %q has a byte outside [a-z0-9._-]", s)
		}
	}
	return nil
}

// List checks a LIST field: a name, or name@domain (mdroute -F) with the
// domain in the same alphabet and at most 255 bytes.
func List(s string) error {
	name, domain, full := strings.Cut(s, "@")
	if err := Name(name); err != nil {
		return fmt.Errorf("list: %v", err)
	}
	if !full {
		return nil
	}
	if len(domain) > MaxDomain || domain == "" {
		return fmt.Errorf("list domain must be 1 to %d bytes", MaxDomain)
	}
	for _, label := range strings.Split(domain, ".") {
		if label == "" || !alnum(label[0]) {
			return fmt.Errorf("list domain %q is not a domain name", domain)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !alnum(c) && c != '_' && c != '-' {
				return fmt.Errorf("list domain %q has a byte outside [a-z0-9._-]", domain)
			}
		}
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }
