package hostile

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// The queue may change under a running mdsweep. A removed
// SUBQUEUE (the list's directory still there) is made again; a removed
// list is no list any more, and its mail is parked (no such list), or, for
// a message that another list took, only said. Mail for the other lists
// flows all along. Once, a two-destination message for a removed maildir
// looped on ENOENT for ever, and held every list behind it.
func TestQueueChangesUnderMdsweep(t *testing.T) {
	s := newSite(t)
	cmd := exec.Command("bash", "-c", `mdsweep -q "$QUEUE" | mdfail`)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "QUEUE="+s.queue)
	w, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errb testkit.SyncBuffer // read while mdsweep writes it
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		w.Close()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
		}
		t.Logf("stderr:\n%s", errb.String())
	})

	n := 0
	// send claims a new message and gives mdsweep its records.
	send := func(dests ...string) string {
		n++
		b := fmt.Sprintf("1700000100.M%dP1.change", n)
		claim := filepath.Join(s.intake, "cur", b+":1,P")
		s.write(claim, okMessage)
		// Records as typed by hand (no I/N), written in one piece: the
		// test is about the queue, not about how records are grouped.
		var recs string
		for _, d := range dests {
			list, sub, _ := strings.Cut(d, "/")
			recs += fmt.Sprintf("%s\t%s\t%s\t%s@lists.example.test\n", claim, list, sub, list)
		}
		if _, err := w.Write([]byte(recs)); err != nil {
			t.Fatal(err)
		}
		return b
	}
	landed := func(b string, where ...string) {
		t.Helper()
		for _, d := range where {
			p := filepath.Join(s.queue, d, "new", b)
			testkit.Poll(t, 20*time.Second, p+"\nstderr: "+errb.String(), func() bool {
				_, err := os.Lstat(p)
				return err == nil
			})
		}
	}
	parked := func(b string) {
		t.Helper()
		p := filepath.Join(s.intake, "cur", b+":1,X")
		testkit.Poll(t, 20*time.Second, p+" (parked)\nstderr: "+errb.String(), func() bool {
			_, err := os.Lstat(p)
			return err == nil
		})
	}

	// Warm: both maildirs made and open, on both hand-off paths (one
	// rename; links into two).
	landed(send("mylist/post", "other/post"), "mylist/post", "other/post")
	landed(send("mylist/post"), "mylist/post")

	// The subqueue goes: made again, on either path.
	os.RemoveAll(filepath.Join(s.queue, "mylist", "post"))
	landed(send("mylist/post", "other/post"), "mylist/post", "other/post")
	os.RemoveAll(filepath.Join(s.queue, "mylist", "post"))
	landed(send("mylist/post"), "mylist/post")

	// The list goes: no such list. Mail another list took is not parked
	// (that would deliver it there twice on a retry); the rest is.
	os.RemoveAll(filepath.Join(s.queue, "mylist"))
	two := send("mylist/post", "other/post")
	landed(two, "other/post")
	one := send("mylist/post")
	parked(one)
	landed(send("other/post"), "other/post")
	if _, err := os.Lstat(filepath.Join(s.queue, "mylist")); err == nil {
		t.Error("the removed list was made again")
	}
	if _, err := os.Lstat(filepath.Join(s.intake, "cur", two+":1,P")); err == nil {
		t.Errorf("%s: claim left", two)
	}
	w.Close()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("mdsweep did not end at the end of its input")
	}
	r := result{stderr: errb.String()}
	r.reason(t, "mdsweep", "handed off to some destinations only, not parked '.*"+two+":1,P': no such list '"+s.queue+"/mylist'")
	r.reason(t, "mdsweep", "cannot hand off '.*"+one+":1,P': no such list '"+s.queue+"/mylist'")
}
