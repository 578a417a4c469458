// Package postfix tests mdpipe with a real Postfix: the recipe of
// mdpipe-mta(7) (examples/mta/postfix) delivers a list domain into the
// intake maildir, and the streaming pipeline, run as the user that owns
// the intake, hands every message to the list queue its RCPT TO names.
//
// It needs root (it starts Postfix, on a port of its own on 127.0.0.1,
// and adds a system user for the intake, removed when it ends) and
// Debian's postfix and
// postfix-pcre; it skips without them (under CI=true: fails). CI runs it
// as root.
package postfix

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/postfixsite"
)

func TestMain(m *testing.M) { testkit.Main(m) }

// TestPostfixVirtualCatchAll runs the main recipe: virtual(8) delivers the
// whole list domain into the intake.
func TestPostfixVirtualCatchAll(t *testing.T) {
	runSite(t, postfixsite.VirtualRecipe, cases(), bulk())
}

// TestPostfixLocalAliases runs the genaliases recipe: local(8) aliases.
func TestPostfixLocalAliases(t *testing.T) {
	runSite(t, postfixsite.AliasRecipe, aliasCases())
}

// runSite sets Postfix up by recipe rc, sends each session's messages,
// waits until Postfix delivered them, runs the streaming pipeline as the
// intake's owner, and checks where every copy went.
func runSite(t *testing.T, rc postfixsite.Recipe, sessions ...[]message) {
	postfixsite.Require(t)
	began := time.Now()
	own := postfixsite.Owner(t)

	// One 0755 directory for the rest: Postfix's user must reach its
	// queue, the list user the intake and the list queue.
	base := testkit.OpenTempDir(t, "mdpipe-postfix-") // removed after Postfix stops
	bin := testkit.BuildTools(t)
	builtAt := time.Now()
	lists := filepath.Join(base, "lists")
	testkit.WriteFile(t, lists, knownLists())
	queue := filepath.Join(base, "queue")
	testkit.Mkdir(t, queue, 0o700)
	if err := os.Chown(queue, own.UID, own.GID); err != nil {
		t.Fatal(err)
	}
	// A list exists when its directory does: one for each known list.
	for _, l := range strings.Split(knownLists(), "\n") {
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		d := filepath.Join(queue, l)
		testkit.Mkdir(t, d, 0o700)
		if err := os.Chown(d, own.UID, own.GID); err != nil {
			t.Fatal(err)
		}
	}

	pf := postfixsite.New(t, base, own, rc)
	checkAddsToSite(t, pf, rc)
	pf.Start(t)
	started := time.Now()

	var ms []message
	for _, s := range sessions {
		send(t, pf, s)
		ms = append(ms, s...)
	}
	copies := 0
	for _, m := range ms {
		for _, d := range m.want {
			if !d.Refused {
				copies++
			}
		}
	}
	newDir := filepath.Join(pf.Intake, "new")
	testkit.Poll(t, time.Minute, "Postfix to deliver every copy into the intake", func() bool {
		return pf.QueueEmpty(t) && len(testkit.Entries(t, newDir)) >= copies
	})
	if n := len(testkit.Entries(t, newDir)); n != copies {
		t.Fatalf("intake new/ holds %d files, want %d (one per recipient)\nmaillog:\n%s", n, copies, pf.Log())
	}
	delivered := time.Now()
	checkIntakeFiles(t, newDir, own)

	stages, parked := testkit.RunPipeline(t, bin, own, [][]string{
		{"mdclaim", pf.Intake},
		{"mdroute", "-l", lists},
		{"mdsweep", "-q", queue},
		{"mdfail"},
	})
	piped := time.Now()
	unroutable := parkedIDs(ms)
	for _, s := range stages {
		want := 0
		if len(unroutable) > 0 && (s.Name == "mdroute" || s.Name == "mdsweep") {
			// Each saw a permanent failure (mdsweep passes the bare
			// path on to mdfail).
			want = 100
		}
		if s.Status != want {
			t.Errorf("%s exited %d, want %d; stderr:\n%s", s.Name, s.Status, want, s.Stderr.String())
		}
	}

	checkQueues(t, queue, ms, own)
	checkIntakeAfter(t, pf.Intake, unroutable, parked, stages[1].Stderr.String())

	t.Logf("Postfix %s: %d copies of %d messages; go build %v, Postfix set-up and start %v, SMTP and delivery %v, pipeline %v, wall time %v",
		rc.Postconf, copies, len(ms), builtAt.Sub(began).Round(time.Millisecond), started.Sub(builtAt).Round(time.Millisecond),
		delivered.Sub(started).Round(time.Millisecond), piped.Sub(delivered).Round(time.Millisecond),
		time.Since(began).Round(time.Millisecond))
}

// checkAddsToSite checks that the recipe's postconf -e lines added to the
// site's main.cf (Debian's, as its postinst leaves it) and replaced
// nothing: the site's aliases still resolve, and each parameter is set
// once.
func checkAddsToSite(t *testing.T, pf *postfixsite.Instance, rc postfixsite.Recipe) {
	t.Helper()
	site := "hash:" + filepath.Join(pf.Config, postfixsite.SiteAliases)
	want := map[string]string{
		"alias_maps":          site,
		"alias_database":      site,
		"mydestination":       "$myhostname, localhost.localdomain, localhost",
		"recipient_delimiter": "+",
	}
	if rc.Aliases != "" {
		ours := "hash:" + filepath.Join(pf.Config, rc.Aliases)
		want["alias_maps"] += ", " + ours
		want["alias_database"] += ", " + ours
		want["mydestination"] += ", lists.example.test"
	}
	for name, v := range want {
		if got := pf.Param(t, name); got != v {
			t.Errorf("after %s, %s = %q, want %q", rc.Postconf, name, got, v)
		}
	}
	mainCf := testkit.ReadFile(t, filepath.Join(pf.Config, "main.cf"))
	for name := range want {
		if n := strings.Count("\n"+mainCf, "\n"+name+" ="); n != 1 {
			t.Errorf("after %s, main.cf sets %s %d times, want once:\n%s", rc.Postconf, name, n, mainCf)
		}
	}
}

// parkedIDs returns the ids of the copies that must end parked as X.
func parkedIDs(ms []message) []string {
	var ids []string
	for _, m := range ms {
		for _, d := range m.want {
			if d.List == "" && !d.Refused {
				ids = append(ids, m.ID)
			}
		}
	}
	return ids
}

// checkIntakeFiles checks that Postfix delivered as the site expects: the
// list user owns each file, mode 0600.
func checkIntakeFiles(t *testing.T, dir string, own testkit.Owner) {
	t.Helper()
	for _, e := range testkit.Entries(t, dir) {
		fi, err := os.Lstat(filepath.Join(dir, e))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != 0o600 || int(st.Uid) != own.UID {
			t.Errorf("intake file %s: mode %v uid %d, want a regular file 0600 owned by %d", e, fi.Mode(), st.Uid, own.UID)
		}
	}
}

// checkQueues checks that every copy is in exactly the queue its RCPT TO
// names, exactly once, and that nothing else is in any queue.
func checkQueues(t *testing.T, queue string, ms []message, own testkit.Owner) {
	t.Helper()
	want := map[string]int{}
	for _, m := range ms {
		for _, d := range m.want {
			if d.List != "" && !d.Refused {
				want[m.ID+" -> "+d.List+"/"+d.Sub]++
			}
		}
	}
	got := postfixsite.QueueCopies(t, queue, func(path, rel string) {
		fi, err := os.Lstat(path)
		if err != nil {
			t.Error(err)
			return
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != own.UID {
			t.Errorf("queue file %s owned by uid %d, want %d", rel, st.Uid, own.UID)
		}
	})
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("queues (-want +got):\n%s", diff)
	}
	// The raw 8-bit header reached the list manager byte for byte.
	for _, p := range testkit.Glob(t, filepath.Join(queue, "mylist", "post", "new", "*")) {
		if postfixsite.TestID(t, p) == "8bit" && !bytes.Contains(readBytes(t, p), []byte(rawSubject)) {
			t.Errorf("%s: the raw 8-bit Subject did not come through unchanged", p)
		}
	}
}

// checkIntakeAfter checks that the intake holds nothing but the messages
// of unknown lists, parked as cur/B:1,X, and that mdroute said why.
func checkIntakeAfter(t *testing.T, intake string, unroutable []string, parked, mdrouteStderr string) {
	t.Helper()
	for _, d := range []string{"new", "tmp"} {
		if left := testkit.Entries(t, filepath.Join(intake, d)); len(left) != 0 {
			t.Errorf("intake %s/ still holds %d files: %q", d, len(left), left)
		}
	}
	cur := testkit.Entries(t, filepath.Join(intake, "cur"))
	if len(cur) != len(unroutable) {
		t.Fatalf("intake cur/ holds %q, want only %q, parked as B:1,X", cur, unroutable)
	}
	var xs []string
	for _, name := range cur {
		x := filepath.Join(intake, "cur", name)
		xs = append(xs, x)
		if !strings.HasSuffix(name, ":1,X") {
			t.Errorf("intake cur/ holds %s, not parked", name)
			continue
		}
		if id := postfixsite.TestID(t, x); id != "unknown-list" {
			t.Errorf("parked %s is %q, want the unknown list's message", x, id)
		}
		wantLog := "mdroute: '" + strings.TrimSuffix(x, "X") + "P': "
		found := false
		for _, l := range strings.Split(mdrouteStderr, "\n") {
			if strings.HasPrefix(l, wantLog) && strings.Contains(l, `unknown list "nosuchlist"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("mdroute's stderr has no line %s...unknown list \"nosuchlist\"; it has:\n%s", wantLog, mdrouteStderr)
		}
	}
	if got := strings.Fields(parked); !cmp.Equal(got, xs, cmpopts.EquateEmpty()) {
		t.Errorf("mdfail printed %q, want %q", got, xs)
	}
}

func readBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
