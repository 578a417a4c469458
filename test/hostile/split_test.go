package hostile

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"mdpipe/internal/testkit"
)

// manyLists makes n lists in the site's queue and delivers one message
// for all of them in one Envelope-to, as Exim batches it. It returns the
// list names and mdroute's records for the claimed message.
func manyLists(s *site, n int) ([]string, []byte) {
	s.t.Helper()
	var lists, addrs []string
	for i := range n {
		l := fmt.Sprintf("list%04d", i)
		lists = append(lists, l)
		addrs = append(addrs, l+"@lists.example.test")
		s.mkdir(filepath.Join(s.queue, l))
	}
	s.deliver(evilB, "Envelope-to: "+strings.Join(addrs, ",\n ")+"\nSubject: to every list\n\nbody\n")
	recs := filepath.Join(s.t.TempDir(), "records")
	s.sh(`mdclaim "$INTAKE" | mdroute >`+recs).wantStatus(s.t, 0, 0)
	b, err := os.ReadFile(recs)
	if err != nil {
		s.t.Fatal(err)
	}
	if got := bytes.Count(b, []byte("\n")); got != n {
		s.t.Fatalf("mdroute printed %d records, want %d", got, n)
	}
	return lists, b
}

// sweepInChunks runs mdsweep on records written into its stdin in two
// pieces, cut between two records of the one message. Before the second
// piece it waits until mdsweep has read the first and sleeps waiting for
// more: the read boundary falls between the two records, for certain.
// With close, the second piece never comes: the writer dies half-way.
func sweepInChunks(s *site, recs []byte, cut int, dies bool) (status int, stderr string) {
	return sweepCut(s, recs, cut, func(cmd *exec.Cmd, w *os.File) {
		if !dies {
			if _, err := w.Write(recs[cut:]); err != nil {
				s.t.Fatal(err)
			}
		}
		w.Close()
	})
}

// sweepCut runs mdsweep, gives it recs[:cut], waits until it has read
// them and sleeps, then calls then, and returns how mdsweep ended.
func sweepCut(s *site, recs []byte, cut int, then func(cmd *exec.Cmd, w *os.File)) (status int, stderr string) {
	s.t.Helper()
	cmd := exec.Command(filepath.Join(bin, "mdsweep"), "-t", "5s", "-q", s.queue)
	// A TERM first begins a drain of what the pipeline holds; the stop
	// comes after this grace (mdpipe(7), Flow control).
	cmd.Env = append(os.Environ(), "MDPIPE_GRACE=1s")
	r, w, err := os.Pipe()
	if err != nil {
		s.t.Fatal(err)
	}
	var errb bytes.Buffer
	cmd.Stdin, cmd.Stderr = r, &errb
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	r.Close()
	defer w.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if _, err := w.Write(recs[:cut]); err != nil {
		s.t.Fatal(err)
	}
	testkit.Poll(s.t, 20*time.Second, "mdsweep to read the first piece and wait", func() bool {
		n, err := unix.IoctlGetInt(int(w.Fd()), unix.TIOCINQ) // FIONREAD: bytes in the pipe
		return err == nil && n == 0 && testkit.Asleep(cmd.Process.Pid)
	})
	then(cmd, w)
	select {
	case err := <-done:
		if ee, ok := err.(*exec.ExitError); ok {
			status = ee.ExitCode()
		} else if err != nil {
			s.t.Fatal(err)
		}
	case <-time.After(40 * time.Second):
		cmd.Process.Kill()
		s.t.Fatalf("mdsweep did not end:\n%s", errb.String())
	}
	s.t.Logf("mdsweep: status %d, stderr:\n%s", status, errb.String())
	return status, errb.String()
}

// Every record of a message reaches the same hand-off, for
// any read boundary. A read that ended between two records of one message
// once made mdsweep hand the message off to the lists it had read, and
// skip the rest in silence: the claim was gone by then.
func TestSplitRecordsOneHandOff(t *testing.T) {
	for _, tc := range []struct {
		n   int
		mid int // bytes into the record after the cut: a read ending inside a record
	}{{2, 0}, {1000, 0}, {2, 7}, {300, 30}} {
		n := tc.n
		t.Run(fmt.Sprintf("%d-records-cut-%d-into-one", n, tc.mid), func(t *testing.T) {
			s := newSite(t)
			lists, recs := manyLists(s, n)
			cut := afterLines(recs, n/2) + tc.mid
			s.mark()
			status, stderr := sweepInChunks(s, recs, cut, false)
			if status != 0 || stderr != "" {
				t.Errorf("mdsweep exit %d, stderr %q; want 0 and quiet", status, stderr)
			}
			missing := 0
			for _, l := range lists {
				if _, err := os.Lstat(filepath.Join(s.queue, l, "post", "new", evilB)); err != nil {
					missing++
				}
			}
			if missing > 0 {
				t.Errorf("%d of %d lists did not get the message", missing, n)
			}
			if _, err := os.Lstat(filepath.Join(s.intake, "cur", evilB+":1,P")); err == nil {
				t.Error("claim left")
			}
		})
	}
}

// A message whose records stop half-way (mdroute killed while writing
// them) is handed off to none of its lists: it stays claimed for mdclaim
// -r, which sends it down whole, and mdsweep says so and exits 111.
func TestSplitRecordsWriterDies(t *testing.T) {
	s := newSite(t)
	lists, recs := manyLists(s, 100)
	cut := afterLines(recs, 50)
	s.mark()
	status, stderr := sweepInChunks(s, recs, cut, true)
	if status != 111 {
		t.Errorf("mdsweep exit %d, want 111", status)
	}
	r := result{stderr: stderr}
	r.reason(t, "mdsweep", "incomplete message '.*"+evilB+":1,P': 50 of 100 records came; not handed off, left claimed")
	s.wantNoneGot(lists)
	// Recovery sends it down whole.
	r = s.sh(`mdclaim -r 1ms "$INTAKE" | mdroute | mdsweep -q "$QUEUE" | mdfail`)
	r.wantStatus(t, 0, 0, 0, 0)
	for _, l := range lists {
		if _, err := os.Lstat(filepath.Join(s.queue, l, "post", "new", evilB)); err != nil {
			t.Fatalf("after recovery: %v", err)
		}
	}
}

// wantNoneGot checks that none of lists got the message from an
// incomplete set of records, and that it stays claimed.
func (s *site) wantNoneGot(lists []string) {
	s.t.Helper()
	for _, l := range lists {
		if ents, _ := os.ReadDir(filepath.Join(s.queue, l, "post", "new")); len(ents) > 0 {
			s.t.Fatalf("%s got the message from an incomplete set of records", l)
		}
	}
	s.wantAt(evilB, "claimed")
}

// afterLines returns the offset just after the first k lines of b.
func afterLines(b []byte, k int) int {
	off := 0
	for range k {
		off += bytes.IndexByte(b[off:], '\n') + 1
	}
	return off
}

// A stop while mdsweep waits for the rest of a message's records ends it
// once the drain's grace is over, not after the 10 s wait for records:
// exit 0, with the message handed off to none of its lists and left
// claimed.
func TestSplitRecordsStop(t *testing.T) {
	s := newSite(t)
	lists, recs := manyLists(s, 10)
	s.mark()
	var stopped time.Time
	status, stderr := sweepCut(s, recs, afterLines(recs, 5), func(cmd *exec.Cmd, w *os.File) {
		stopped = time.Now()
		if err := cmd.Process.Signal(unix.SIGTERM); err != nil {
			t.Fatal(err)
		}
	})
	if d := time.Since(stopped); d > 5*time.Second {
		t.Errorf("mdsweep took %v to stop", d)
	}
	if status != 0 {
		t.Errorf("mdsweep exit %d on a stop, want 0", status)
	}
	r := result{stderr: stderr}
	r.reason(t, "mdsweep", "incomplete message '.*"+evilB+":1,P': stopped after 5 of 10 records; not handed off, left claimed")
	s.wantNoneGot(lists)
}
