package tool

import (
	"fmt"
	"mdpipe/internal/testkit"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFollow runs the streaming service, mdclaim -f, with its safety
// rescan set to an hour: only the inotify wake-up on the MTA's rename into
// new/ can bring a message to its queue in time. Then SIGTERM stops every
// tool with exit 0, and no claim is left behind.
func TestFollow(t *testing.T) {
	t.Parallel()
	_, maildir, queue := emptyIntake(t)
	makeLists(t, queue, []delivery{{dests: []string{"mylist/post"}}})

	p := startPipeline(t,
		[]string{"mdclaim", "-f", "-i", "1h", maildir},
		[]string{"mdroute"},
		[]string{"mdsweep", "-q", queue},
		[]string{"mdfail"})

	// An unroutable message first: once it is parked, every tool has
	// handled input, so each is up with its SIGTERM handler installed, and
	// mdclaim's watch is set (before its first scan). Each later message
	// is delivered while mdclaim waits, so only inotify can wake it
	// within the deadline.
	bad := "1795909999.Mnohdr.follow.example.test"
	testkit.Deliver(t, maildir, bad, "Subject: no envelope recipient\n\nbody\n")
	parked := filepath.Join(maildir, "cur", bad+":1,X")
	if !testkit.Until(20*time.Second, func() bool { return exists(parked) }) {
		p.stop(t)
		t.Fatalf("%s not parked within 20s\n%s", bad, p.logs())
	}
	var ds []delivery
	for i := range 5 {
		base := fmt.Sprintf("1795910000.M%dP%d.follow.example.test", i, 5000+i)
		rcpt := []string{"mylist@lists.example.test", "mylist-request@lists.example.test"}[i%2]
		testkit.Deliver(t, maildir, base, "Delivered-To: "+rcpt+"\nSubject: follow\n\nbody\n")
		ds = append(ds, delivery{file: base, base: base, dests: []string{expectedDest(rcpt)}})
		want := filepath.Join(queue, expectedDest(rcpt), "new", base)
		if !testkit.Until(20*time.Second, func() bool { return exists(want) }) {
			p.stop(t)
			t.Fatalf("%s did not reach %s within 20s (rescan is 1h: no inotify wake-up?)\n%s", base, want, p.logs())
		}
	}

	statuses := p.stop(t)
	for i, st := range statuses {
		if st != 0 {
			t.Errorf("%s exited %d (%s) after SIGTERM, want 0\n%s", p.names[i], st, p.cmds[i].ProcessState, p.logs())
		}
	}
	// Quiet but for the unroutable message, mdclaim's line at start and
	// each stage's line at the stop: in particular no "no inotify ...,
	// polling" from mdclaim, whose poll fallback could otherwise pass this
	// test unnoticed.
	maildirQ := "'" + maildir + "'"
	wantLog := []string{
		"mdclaim: following " + maildirQ + " (devel): at most 64 claims held, no recovery\nmdclaim: stopped: 6 claimed, 0 returned to new/\n",
		"mdroute: '" + filepath.Join(maildir, "cur", bad+":1,P") +
			"': no Delivered-To, X-Original-To, Envelope-to field in the header\nmdroute: stopped: 6 records read, 6 written\n",
		"mdsweep: stopped: 6 records read, 1 written\n",
		"mdfail: stopped: 1 records read, 1 written\n"}
	for i, e := range p.stderr {
		if e.String() != wantLog[i] {
			t.Errorf("%s logged %q, want %q", p.names[i], e.String(), wantLog[i])
		}
	}
	if got := p.out.String(); got != parked+"\n" {
		t.Errorf("mdfail printed %q, want %q", got, parked+"\n")
	}
	checkQueue(t, queue, ds)
	checkIntake(t, maildir, []string{bad})
}

// pipeline is tools started by the test itself, each one's stdout piped
// into the next one's stdin, so that the test has every pid to signal.
//
// The test keeps both ends of every pipe open until all have exited, so
// that a tool ends only by its own SIGTERM: a neighbour that exits first
// is seen as an end of input or as "the next tool has exited", which
// would race with the tool's own signal and test something else.
type pipeline struct {
	names  []string
	cmds   []*exec.Cmd
	stderr []*strings.Builder
	out    *strings.Builder
	pipes  []*os.File
	done   bool
}

func startPipeline(t *testing.T, stages ...[]string) *pipeline {
	t.Helper()
	p := &pipeline{out: new(strings.Builder)}
	var stdin *os.File // nil: /dev/null for the first tool
	for i, args := range stages {
		cmd := exec.Command(toolPath(t, args[0]), args[1:]...)
		cmd.Env = toolEnv()
		if stdin != nil {
			cmd.Stdin = stdin
		}
		var next *os.File
		if i < len(stages)-1 {
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stdout, next = w, r
		} else {
			cmd.Stdout = p.out
		}
		errb := new(strings.Builder)
		cmd.Stderr = errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if w, ok := cmd.Stdout.(*os.File); ok {
			p.pipes = append(p.pipes, w, next)
		}
		stdin = next
		p.names = append(p.names, args[0])
		p.cmds = append(p.cmds, cmd)
		p.stderr = append(p.stderr, errb)
	}
	t.Cleanup(func() {
		if !p.done {
			for _, c := range p.cmds {
				c.Process.Kill()
				c.Wait()
			}
		}
		p.closePipes()
	})
	return p
}

// stop sends SIGTERM to every tool at once, as a supervisor stopping the
// service does, and returns their exit statuses.
func (p *pipeline) stop(t *testing.T) []int {
	t.Helper()
	for i, c := range p.cmds {
		if err := c.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM %s: %v", p.names[i], err)
		}
	}
	st := make([]int, len(p.cmds))
	for i, c := range p.cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Errorf("%s still runs 20s after SIGTERM", p.names[i])
			c.Process.Kill()
			<-done
		}
		st[i] = c.ProcessState.ExitCode()
	}
	p.done = true
	p.closePipes()
	return st
}

func (p *pipeline) closePipes() {
	for _, f := range p.pipes {
		f.Close()
	}
	p.pipes = nil
}

func (p *pipeline) logs() string {
	var b strings.Builder
	for i, e := range p.stderr {
		fmt.Fprintf(&b, "%s stderr: %q\n", p.names[i], e.String())
	}
	fmt.Fprintf(&b, "stdout: %q", p.out.String())
	return b.String()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
