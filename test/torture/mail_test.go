package torture

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The lists and addresses the writer delivers to, and where each must end.
var (
	lists     = []string{"alpha", "beta", "gamma", "delta-x"}
	suffixes  = []string{"", "-bounces+alice=example.org", "-request", "-owner", "-confirm+c0ffee"}
	subqueues = []string{"post", "bounces", "request", "owner", "confirm"}
)

// Every multi-th message is for two lists at once, in one delivery, as
// Exim batches recipients into one Envelope-to: one claim, two queues.
const multi = 7

// destsOf lists the queue directories (LIST/SUBQUEUE) message i must reach.
func destsOf(i int) []string {
	d := []string{filepath.Join(lists[i%len(lists)], subqueues[i/len(lists)%len(subqueues)])}
	if i%multi == multi-1 {
		d = append(d, filepath.Join(lists[(i+1)%len(lists)], "post"))
	}
	if poisonOf(i) == poisonWide {
		d = append(d, wideDests()...)
	}
	return d
}

func message(i int) []byte {
	rcpt := lists[i%len(lists)] + suffixes[i/len(lists)%len(suffixes)] + "@lists.example.test"
	env := "Delivered-To: " + rcpt
	if i%multi == multi-1 {
		env = "Envelope-to: " + rcpt + ", " + lists[(i+1)%len(lists)] + "@lists.example.test"
	}
	switch poisonOf(i) {
	case poisonWide:
		if i%multi == multi-1 {
			env += wideEnvelope()
		} else {
			env = "Envelope-to: " + rcpt + wideEnvelope()
		}
	case poisonSender:
		env = poisonSenderField(i) + env
	}
	return fmt.Appendf(nil, "%s\nReceived: from mx.example.org by lists.example.test; %s\n"+
		"From: sender%d@example.org\nTo: %s\nSubject: torture %d\nMessage-Id: <%d@torture.example>\nX-Torture-Id: %d\n\n"+
		"message %d\n", env, time.Now().Format(time.RFC1123Z), i, rcpt, i, i, i, i)
}

// deliver writes n messages into the intake maildir the MTA way: each to
// tmp/, then one rename into new/. It spreads them over about n/rate
// seconds so that the chaos has a run to disturb.
func deliver(intake string, n, rate int) error {
	start := time.Now()
	pid := os.Getpid()
	for i := 0; i < n; i++ {
		if ahead := time.Duration(i)*time.Second/time.Duration(rate) - time.Since(start); ahead > time.Millisecond {
			time.Sleep(ahead) // pacing the writer, not synchronisation
		}
		name := fmt.Sprintf("%d.M%dP%dQ%d.torture", time.Now().Unix(), time.Now().Nanosecond()/1000, pid, i)
		tmp := filepath.Join(intake, "tmp", name)
		if err := os.WriteFile(tmp, message(i), 0o666); err != nil {
			return err
		}
		if cred := sweepCredential(); cred != nil {
			// The intake's owner is the user mdsweep runs as: it links
			// the message (protected_hardlinks) and sets the next try
			// of a deferred one as its owner (see failing_test.go).
			if err := os.Chown(tmp, int(cred.Uid), int(cred.Gid)); err != nil {
				return err
			}
		}
		if err := os.Rename(tmp, filepath.Join(intake, "new", name)); err != nil {
			return err
		}
		if poisonOf(i) == poisonJunk {
			if err := makeJunk(intake, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// tortureID reads the X-Torture-Id of a delivered message.
func tortureID(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("X-Torture-Id: ")); ok {
			return strconv.Atoi(string(v))
		}
	}
	return 0, fmt.Errorf("%s: no X-Torture-Id", path)
}

// accounting is where every delivered message ended.
type accounting struct {
	delivered, handedOff, duplicates, failed, stranded, lost, misrouted int
	problems                                                            []string
}

func (a *accounting) String() string {
	return fmt.Sprintf("delivered=%d handed-off=%d duplicates=%d X=%d stranded=%d lost=%d misrouted=%d",
		a.delivered, a.handedOff, a.duplicates, a.failed, a.stranded, a.lost, a.misrouted)
}

func (a *accounting) ok() bool {
	return a.handedOff == a.delivered && a.duplicates == 0 && a.failed == 0 &&
		a.stranded == 0 && a.lost == 0 && a.misrouted == 0 && len(a.problems) == 0
}

func (a *accounting) problem(format string, args ...any) {
	if len(a.problems) < 20 {
		a.problems = append(a.problems, fmt.Sprintf(format, args...))
	}
}

// account counts every message: in a queue (once, in the right one), X,
// or still in the intake; a message found nowhere is lost.
func account(intake, queue string, n int) (*accounting, error) {
	a := &accounting{delivered: n}
	seen := make([]int, n)              // places each message is found in
	placed := make([]map[string]int, n) // copies in each queue
	queues, err := filepath.Glob(filepath.Join(queue, "*", "*"))
	if err != nil {
		return nil, err
	}
	for _, q := range queues {
		dest, _ := filepath.Rel(queue, q)
		for _, sub := range []string{"tmp", "cur"} {
			if ents, _ := os.ReadDir(filepath.Join(q, sub)); len(ents) > 0 {
				a.problem("%d files left in %s/%s, e.g. %s", len(ents), dest, sub, ents[0].Name())
			}
		}
		ents, err := os.ReadDir(filepath.Join(q, "new"))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			id, err := tortureID(filepath.Join(q, "new", e.Name()))
			if err != nil || id < 0 || id >= n {
				a.problem("not a torture message: %s/new/%s: %v", dest, e.Name(), err)
				continue
			}
			if placed[id] == nil {
				placed[id] = map[string]int{}
			}
			if placed[id][dest]++; placed[id][dest] > 1 {
				a.duplicates++
				a.problem("message %d handed off twice into %s", id, dest)
			}
			if !slices.Contains(destsOf(id), dest) {
				a.misrouted++
				a.problem("message %d in %s, want %v", id, dest, destsOf(id))
			}
		}
	}
	for id, m := range placed {
		if m == nil {
			continue
		}
		seen[id]++
		all := true
		for _, d := range destsOf(id) {
			all = all && m[d] > 0
		}
		if all {
			a.handedOff++
		} else {
			a.problem("message %d in %v only, want %v", id, m, destsOf(id))
			a.lost++
		}
	}
	junk := junkIn(n)
	for _, sub := range []string{"new", "cur", "tmp"} {
		ents, err := os.ReadDir(filepath.Join(intake, sub))
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			if sub == "cur" && strings.HasPrefix(e.Name(), ".") {
				continue // what a deferral keeps beside a message: no message
			}
			if sub == "new" && junk[e.Name()] {
				delete(junk, e.Name()) // left alone, as it must be
				continue
			}
			path := filepath.Join(intake, sub, e.Name())
			id, err := tortureID(path)
			switch {
			case err != nil:
				a.problem("%s: %v", path, err)
			case strings.HasSuffix(e.Name(), ":1,X"):
				a.failed++
				seen[id]++
			default:
				a.stranded++
				seen[id]++
			}
		}
	}
	for id, k := range seen {
		if k == 0 {
			a.lost++
			a.problem("message %d is nowhere", id)
		}
	}
	for name := range junk {
		a.problem("junk entry %q is no longer in new/", name)
	}
	return a, nil
}

// makeLists makes the queue and a directory for each list the writer
// delivers to: a list exists when its directory does (mdsweep makes
// none without -C).
func makeLists(t testing.TB, queue string) {
	t.Helper()
	for _, l := range append(lists[:len(lists):len(lists)], wideLists...) {
		if err := os.MkdirAll(filepath.Join(queue, l), 0o777); err != nil {
			t.Fatal(err)
		}
	}
}
