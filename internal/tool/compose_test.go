package tool

import (
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestStreamingPipeline runs mdpipe(7)'s streaming composition over real
// Postfix and Exim deliveries plus unroutable messages in one intake.
func TestStreamingPipeline(t *testing.T) {
	t.Parallel()
	dir, maildir, queue := emptyIntake(t)
	ds := fillIntake(t, maildir)
	makeLists(t, queue, ds)

	stdout, stderr, st := runStreaming(t, dir, maildir, queue)

	// Unroutable messages make mdroute and mdsweep report 100 (permanent,
	// for those inputs); mdfail parked them all: 0.
	if want := "mdclaim=0 mdroute=100 mdsweep=100 mdfail=0"; st != want {
		t.Errorf("exit statuses %s, want %s\nstderr:\n%s", st, want, stderr)
	}
	checkQueue(t, queue, ds)
	checkUnroutableParked(t, maildir, stdout, stderr)
}

// TestShellLoop runs mdpipe(7)'s shell loop, one message at a time. The
// page writes `mdclaim -n 1 -w`, which waits for ever on an empty intake (the
// loop is a service); the test drops -w so that the loop ends when
// mdclaim exits 1, nothing left to claim.
func TestShellLoop(t *testing.T) {
	t.Parallel()
	dir, maildir, queue := emptyIntake(t)
	ds := fillIntake(t, maildir)
	makeLists(t, queue, ds)

	stdout, stderr := shell(t, dir, `
		n=0
		while f=$(mdclaim -n 1 "$MAILDIR"); do
			n=$((n + 1))
			mdroute "$f" | mdsweep -q "$QUEUE" | mdfail
		done
		mdclaim "$MAILDIR"; echo $? >mdclaim.rc
		echo $n >loops.rc`,
		"MAILDIR="+maildir, "QUEUE="+queue)

	st := statuses(t, dir, "mdclaim", "loops")
	if want := len(ds) + len(unroutable); st["loops"] != strconv.Itoa(want) {
		t.Errorf("the loop ran %s times, want once per message: %d", st["loops"], want)
	}
	if st["mdclaim"] != "1" {
		t.Errorf("mdclaim on the emptied intake exited %s, want 1", st["mdclaim"])
	}
	checkQueue(t, queue, ds)
	checkUnroutableParked(t, maildir, stdout, stderr)
}

// checkUnroutableParked asserts what a pipeline leaves of the unroutable
// messages: each parked in the intake and nothing else left there, each
// X path printed (by mdfail), and exactly one log line for each, mdroute's
// `mdroute: 'PATH': why`.
func checkUnroutableParked(t *testing.T, maildir, stdout, stderr string) {
	t.Helper()
	checkIntake(t, maildir, unroutableNames())
	var wantOut []string
	for _, n := range unroutableNames() {
		wantOut = append(wantOut, filepath.Join(maildir, "cur", n+":1,X"))
	}
	if got := lines(stdout); !slices.Equal(got, wantOut) {
		t.Errorf("printed %q, want %q", got, wantOut)
	}
	got := lines(stderr)
	if len(got) != len(unroutable) {
		t.Errorf("log has %d lines, want %d (one per unroutable message):\n%s", len(got), len(unroutable), stderr)
	}
	for _, n := range unroutableNames() {
		prefix := "mdroute: '" + filepath.Join(maildir, "cur", n+":1,P") + "': "
		if !slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, prefix) }) {
			t.Errorf("log has no line %q...:\n%s", prefix, stderr)
		}
	}
}
