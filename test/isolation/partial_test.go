package isolation

import (
	"os"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// A message for two lists keeps which one took it: after a stop and a restart, only the other gets it.
func TestPartialHandOffAcrossRestart(t *testing.T) {
	s := newSite(t)
	testkit.WriteFile(t, s.flag, "")
	b := msgName(0)
	s.deliver(b, message("a@lists.example.test, b@lists.example.test", "sender@example.org", msgID(0)))
	p := startPipeline(t, nil, s.env(), s.standard("64")...)
	testkit.Poll(t, stopWithin, "list b to take the message and list a to fail it", func() bool {
		return s.count("b") >= 1 && s.count("failed") >= 1
	})
	p.signalGroup(syscall.SIGTERM)
	p.wait(stopWithin)
	if n := s.claims(); n != 0 {
		t.Errorf("the stop left %d claims: %v", n, s.claimNames())
	}

	// The restart returns at once whatever a stop left claimed (-r 1s),
	// as the service's -r does once its age has passed.
	if err := os.Remove(s.flag); err != nil {
		t.Fatal(err)
	}
	restart := s.standard("64")
	restart[0] = []string{"mdclaim", "-f", "-k", "64", "-r", "1s", s.intake}
	p = startPipeline(t, nil, s.env(), restart...)
	if !testkit.Until(2*time.Minute, func() bool { return s.count("a") >= 1 }) {
		t.Errorf("after a restart with its failure gone, list a did not get the message in 2 minutes; it is at %v", s.inIntake(b))
	}
	p.signalGroup(syscall.SIGTERM)
	p.wait(stopWithin)
	got := s.byID("a", "b")[msgID(0)]
	if len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("the message reached %v, want [a b], each once", got)
	}
	if at := s.inIntake(b); len(at) != 0 {
		t.Errorf("the message is still in the intake, at %v", at)
	}
}
