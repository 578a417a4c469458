package isolation

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// stopWithin bounds a stop: the grace (5 s) and the wind-down (2 s) of
// mdpipe(7), "Stopping", with room for a loaded machine.
const stopWithin = 30 * time.Second

// One failing list holds up none of four others, and its mail arrives exactly once after a restart.
func TestFiveLists(t *testing.T) {
	// While list a's hand-off fails, lists b to e get all 400 of their
	// messages within 30 s; after a stop and a restart with the failure
	// gone, a gets its 100 within 2 minutes; each message arrives once,
	// at most -k claims are held at any time, nothing is left behind.
	lists := []string{"a", "b", "c", "d", "e"}
	others := lists[1:]
	s := newSite(t)
	testkit.WriteFile(t, s.flag, "")
	const total = 500
	for i := range total {
		s.deliverFor(i, lists[i%len(lists)])
	}
	peak := s.peak()

	p := startPipeline(t, nil, s.env(), s.standard("100")...)
	start := time.Now()
	if !testkit.Until(30*time.Second, func() bool { return s.countAll(others...) >= 400 }) {
		t.Fatalf("while list a fails, lists b to e got %d of their 400 messages in 30s (claims held now %d, at most %d)",
			s.countAll(others...), s.claims(), peak())
	}
	t.Logf("lists b to e got their 400 messages in %v", time.Since(start).Round(time.Millisecond))
	if n := s.count("a"); n != 0 {
		t.Errorf("list a's command logged %d hand-offs while it failed", n)
	}
	p.signalGroup(syscall.SIGTERM)
	p.wait(stopWithin)
	if n := s.claims(); n != 0 {
		t.Errorf("the stop left %d claims: %v", n, s.claimNames())
	}

	if err := os.Remove(s.flag); err != nil {
		t.Fatal(err)
	}
	p = startPipeline(t, nil, s.env(), s.standard("100")...)
	start = time.Now()
	if !testkit.Until(2*time.Minute, func() bool { return s.count("a") >= 100 }) {
		t.Fatalf("after a restart with its failure gone, list a got %d of its 100 messages in 2 minutes (claims held %d)",
			s.count("a"), s.claims())
	}
	t.Logf("list a got its 100 messages %v after the restart", time.Since(start).Round(time.Millisecond))
	p.signalGroup(syscall.SIGTERM)
	p.wait(stopWithin)
	if max := peak(); max > 100 {
		t.Errorf("%d claims held at one time, want at most 100 (-k 100)", max)
	}
	wantExactlyOnce(t, s, total, lists)
}

// wantExactlyOnce checks that message i reached list lists[i%len(lists)]
// once and nothing else, and that nothing of any is left in the intake.
func wantExactlyOnce(t *testing.T, s *site, total int, lists []string) {
	t.Helper()
	got := s.byID(lists...)
	for i := range total {
		want := lists[i%len(lists)]
		if l := got[msgID(i)]; len(l) != 1 || l[0] != want {
			t.Errorf("message %d reached %v, want [%s] once", i, l, want)
		}
		delete(got, msgID(i))
		if at := s.inIntake(msgName(i)); len(at) != 0 {
			t.Errorf("message %d is still in the intake, at %v", i, at)
		}
	}
	for id, l := range got {
		t.Errorf("Message-ID %s, of no message delivered to the intake, reached %v", id, l)
	}
	if n := len(names(filepath.Join(s.intake, "new"))); n != 0 {
		t.Errorf("%d entries left in new/", n)
	}
}

// A list whose hand-off fails holds up no other list's mail, and its own stays in the intake.
func TestTwoLists(t *testing.T) {
	s := newSite(t)
	testkit.WriteFile(t, s.flag, "")
	// List a's five come first, list b's five behind them.
	for i := range 10 {
		list := "b"
		if i < 5 {
			list = "a"
		}
		s.deliverFor(i, list)
	}
	p := startPipeline(t, nil, s.env(), s.standard("64")...)
	if !testkit.Until(10*time.Second, func() bool { return s.count("b") >= 5 }) {
		t.Errorf("behind list a's failing messages, list b got %d of its 5 in 10s", s.count("b"))
	}
	p.signalGroup(syscall.SIGTERM)
	p.wait(stopWithin)
	if n := s.count("a"); n != 0 {
		t.Errorf("list a's command logged %d hand-offs while it failed", n)
	}
	for i := range 5 {
		at := s.inIntake(msgName(i))
		if len(at) != 1 {
			t.Errorf("list a's message %d is at %v, want one entry in the intake", i, at)
		} else if at[0] == filepath.Join("cur", msgName(i)+":1,X") {
			t.Errorf("list a's message %d was parked (%s): a temporary failure never parks", i, at[0])
		}
	}
}

// With every destination failing, the pipeline backs off without a hot loop, and resumes when they come back.
func TestSiteDownBacksOff(t *testing.T) {
	lists := []string{"a", "b", "c"}
	s := newSite(t)
	testkit.WriteFile(t, s.flag, "")
	const total = 30
	for i := range total {
		s.deliverFor(i, lists[i%len(lists)])
	}
	p := startPipeline(t, nil, s.env("ISO_FAILALL=1"), s.standard("64")...)
	// Watched for 10 s: a back-off of 1, 2, 4 s... per destination
	// tries each of the three about 4 times; one schedule per message
	// would try 30 messages as often, and a hot loop thousands of times.
	const most = total
	testkit.Until(10*time.Second, func() bool { return s.count("failed") > most })
	if n := s.count("failed"); n > most {
		t.Fatalf("with the whole site down, %d failed tries in 10s or less, want at most %d", n, most)
	} else {
		t.Logf("with the whole site down, %d failed tries in 10s", n)
	}
	if err := os.Remove(s.flag); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if !testkit.Until(2*time.Minute, func() bool { return s.countAll(lists...) >= total }) {
		t.Fatalf("once the site came back, %d of the %d messages arrived in 2 minutes", s.countAll(lists...), total)
	}
	t.Logf("once the site came back, the %d messages arrived in %v", total, time.Since(start).Round(time.Millisecond))
	p.signalGroup(syscall.SIGTERM)
	p.wait(stopWithin)
	wantExactlyOnce(t, s, total, lists)
}
