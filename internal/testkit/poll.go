package testkit

import (
	"testing"
	"time"
)

// pollInterval is short next to every deadline the tests use, and long
// enough not to steal a core from the programs being waited for.
const pollInterval = 20 * time.Millisecond

// WaitFor calls cond until it holds, failing the test with cond's last
// word once within has passed. Tests synchronise with it, never by sleeps.
func WaitFor(t testing.TB, within time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, why)
		}
		time.Sleep(pollInterval)
	}
}

// Poll calls cond until it holds, failing the test after timeout with
// "timed out after TIMEOUT waiting for WHAT".
func Poll(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	if !Until(timeout, cond) {
		t.Fatalf("timed out after %v waiting for %s", timeout, what)
	}
}

// Until calls cond until it holds or timeout passes, and reports whether
// it held: for clean-ups, which must report and go on rather than stop.
func Until(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(pollInterval)
	}
	return true
}
