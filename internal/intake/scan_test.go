package intake

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestScanOldestFirst(t *testing.T) {
	bothRenames(t, func(t *testing.T) {
		md := newMaildir(t)
		names := []string{"1795893887.V1M3.vm", "1795893886.V1M9.vm", "1795894065.M5P1.mx", "1795893886.V1M1.vm"}
		for _, n := range names {
			put(t, md, "new/"+n)
		}
		log, buf := testLog()
		c := &Claimer{Maildir: md, Log: log}
		var got []string
		res, err := c.Scan(0, func(p string) { got = append(got, p) })
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			md + "/cur/1795893886.V1M1.vm:1,P",
			md + "/cur/1795893886.V1M9.vm:1,P",
			md + "/cur/1795893887.V1M3.vm:1,P",
			md + "/cur/1795894065.M5P1.mx:1,P",
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("claims (-want +got):\n%s", d)
		}
		if d := cmp.Diff(Result{Claimed: 4}, res); d != "" {
			t.Errorf("result (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{}, ls(t, md, "new")); d != "" {
			t.Errorf("new/ not empty: %s", d)
		}
		if got := logLines(buf); got != nil {
			t.Errorf("log: %q, want nothing", got)
		}
		// The claim is the message, under its new name.
		b, err := os.ReadFile(want[0])
		if err != nil || !strings.Contains(string(b), "1795893886.V1M1.vm") {
			t.Errorf("claim holds %q, %v", b, err)
		}
	})
}

// TestScanRelativeMaildir checks that claims are joined to the operand as
// given: a relative maildir gives relative paths.
func TestScanRelativeMaildir(t *testing.T) {
	md := newMaildir(t)
	put(t, md, "new/1.a")
	t.Chdir(filepath.Dir(md))
	log, _ := testLog()
	c := &Claimer{Maildir: "intake", Log: log}
	var got []string
	if _, err := c.Scan(0, func(p string) { got = append(got, p) }); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"intake/cur/1.a:1,P"}, got); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
}

// TestScanSkips checks regular files only (mdpipe(7), RULES): only regular
// files are claimed; a dot-file, symlink, FIFO or directory is left with
// one log line, once, however often new/ is scanned again.
func TestScanSkips(t *testing.T) {
	md := newMaildir(t)
	target := put(t, md, "tmp/elsewhere")
	putLink(t, md, "new/2.symlink", target)
	if err := syscall.Mkfifo(filepath.Join(md, "new", "3.fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	putDir(t, md, "new/4.dir")
	put(t, md, "new/.1.dotfile")
	log, buf := testLog()
	c := &Claimer{Maildir: md, Log: log}
	for i := 0; i < 3; i++ {
		put(t, md, fmt.Sprintf("new/5.msg%d", i))
		got, res := scanBases(t, c, 0)
		if d := cmp.Diff([]string{fmt.Sprintf("5.msg%d:1,P", i)}, got); d != "" {
			t.Errorf("scan %d: claims (-want +got):\n%s", i, d)
		}
		if res.Refused != 0 || res.More {
			t.Errorf("scan %d: result %+v, want OK and no More", i, res)
		}
	}
	want := []string{
		"mdclaim: skipping '" + md + "/new/.1.dotfile': dot-file, not a message",
		"mdclaim: skipping '" + md + "/new/2.symlink': not a regular file (a symlink)",
		"mdclaim: skipping '" + md + "/new/3.fifo': not a regular file (a FIFO)",
		"mdclaim: skipping '" + md + "/new/4.dir': not a regular file (a directory)",
	}
	// Logged as the directory is read: in its order, not the names'.
	got := logLines(buf)
	sort.Strings(got)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{".1.dotfile", "2.symlink", "3.fifo", "4.dir"}, ls(t, md, "new")); d != "" {
		t.Errorf("new/ (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"5.msg0:1,P", "5.msg1:1,P", "5.msg2:1,P"}, ls(t, md, "cur")); d != "" {
		t.Errorf("cur/ (-want +got):\n%s", d)
	}
}

// scanBases runs one c.Scan(max) and returns the base names of the
// claims it emitted, and its result.
func scanBases(t *testing.T, c *Claimer, max int) ([]string, Result) {
	t.Helper()
	var got []string
	res, err := c.Scan(max, func(p string) { got = append(got, filepath.Base(p)) })
	if err != nil {
		t.Fatal(err)
	}
	return got, res
}

// TestScanUnsafeNames checks that a name the record format cannot carry
// is never claimed (a record would split), and the scan says permanent.
func TestScanUnsafeNames(t *testing.T) {
	md := newMaildir(t)
	put(t, md, "new/1.tab\there")
	put(t, md, "new/2.newline\nhere")
	put(t, md, "new/3.good")
	log, buf := testLog()
	got, res := scanBases(t, &Claimer{Maildir: md, Log: log}, 0)
	if d := cmp.Diff([]string{"3.good:1,P"}, got); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
	if res.Refused == 0 {
		t.Errorf("Refused %d, want the bad entries counted", res.Refused)
	}
	lines := logLines(buf)
	if len(lines) != 2 {
		t.Fatalf("log: %q, want a line for each refused name", lines)
	}
	for _, l := range lines {
		if !strings.Contains(l, "TAB or a newline") {
			t.Errorf("log line %q does not say why", l)
		}
	}
	if d := cmp.Diff([]string{"1.tab\there", "2.newline\nhere"}, ls(t, md, "new")); d != "" {
		t.Errorf("new/ (-want +got):\n%s", d)
	}
}

func TestScanMax(t *testing.T) {
	md := newMaildir(t)
	for i := 0; i < 10; i++ {
		put(t, md, fmt.Sprintf("new/%02d", i))
	}
	log, _ := testLog()
	c := &Claimer{Maildir: md, Log: log}
	var got []string
	emit := func(p string) { got = append(got, filepath.Base(p)) }
	res, err := c.Scan(3, emit)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Result{Claimed: 3, More: true}, res); d != "" {
		t.Errorf("first scan (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"00:1,P", "01:1,P", "02:1,P"}, got); d != "" {
		t.Errorf("first scan claims (-want +got):\n%s", d)
	}
	res, err = c.Scan(7, emit)
	if err != nil {
		t.Fatal(err)
	}
	if res.Claimed != 7 || len(ls(t, md, "new")) != 0 {
		t.Errorf("second scan: %+v, new/ holds %q", res, ls(t, md, "new"))
	}
	res, _ = c.Scan(0, emit)
	if d := cmp.Diff(Result{}, res); d != "" {
		t.Errorf("empty scan (-want +got):\n%s", d)
	}
}

// TestScanMaxPastSkipped checks that entries that cannot be claimed do
// not fill a small window for good: mdclaim -n 1 loops while More, so a
// symlink, a directory or a name clash that sorts first must not stop it
// from reaching the message behind them.
func TestScanMaxPastSkipped(t *testing.T) {
	md := newMaildir(t)
	putLink(t, md, "new/1.symlink", "/etc/passwd")
	putDir(t, md, "new/2.dir")
	put(t, md, "new/3.clash")
	put(t, md, "cur/3.clash:1,P") // another message under the same name
	put(t, md, "new/4.tab\tname")
	put(t, md, "new/5.msg")
	put(t, md, "new/6.msg")
	log, _ := testLog()
	c := &Claimer{Maildir: md, Log: log}
	var got []string
	// The loop of mdclaim -n 1, bounded here instead of spinning.
	for i := 0; i < 10; i++ {
		claimed, res := scanBases(t, c, 1)
		got = append(got, claimed...)
		if res.Claimed > 0 || !res.More {
			break
		}
	}
	if d := cmp.Diff([]string{"5.msg:1,P"}, got); d != "" {
		t.Errorf("claims (-want +got):\n%s", d)
	}
}

// TestOldestWindow checks the bounded window: the smallest names, sorted,
// and whether more remained.
func TestOldestWindow(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"e", "b", "h", "a", "d", "c", "g", "f", ".dot"} {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	names := func(es []entry) []string {
		var s []string
		for _, e := range es {
			s = append(s, e.name)
		}
		return s
	}
	for _, tc := range []struct {
		limit int
		want  []string
		more  bool
	}{
		{1, []string{"a"}, true},
		{3, []string{"a", "b", "c"}, true},
		{8, []string{"a", "b", "c", "d", "e", "f", "g", "h"}, false},
		{100, []string{"a", "b", "c", "d", "e", "f", "g", "h"}, false},
	} {
		got, more, err := oldestIn(t, dir, tc.limit, func(n string, _ fs.FileMode) bool { return n[0] != '.' })
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, names(got)); d != "" || more != tc.more {
			t.Errorf("oldest(limit %d): more=%v (want %v) (-want +got):\n%s", tc.limit, more, tc.more, d)
		}
	}
}

// BenchmarkOldest20k reads a new/ of 20,000 messages, as the first scan
// of mdclaim over the bench's backlog does before its first claim.
func BenchmarkOldest20k(b *testing.B) {
	dir := b.TempDir()
	for i := range 20_000 {
		name := fmt.Sprintf("1795893886.Vfd01I%xM%06d.mx.example.org", 0x100000+i, i*7919%1000000)
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		fd, err := openDir(dir)
		if err != nil {
			b.Fatal(err)
		}
		got, more, err := oldest(dir, fd, scanWindow, func(string, fs.FileMode) bool { return true })
		unix.Close(fd)
		if err != nil || more || len(got) != 20_000 {
			b.Fatalf("%d names, more %v: %v", len(got), more, err)
		}
	}
}

// TestScanWindowOverflow fills new/ past the scan window: the first scan
// claims one window, oldest first, and says More.
func TestScanWindowOverflow(t *testing.T) {
	defer func(w int) { scanWindow = w }(scanWindow)
	scanWindow = 100
	md := newMaildir(t)
	n := scanWindow + 5
	for i := 0; i < n; i++ {
		f, err := os.Create(filepath.Join(md, "new", fmt.Sprintf("%06d", n-1-i)))
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	log, _ := testLog()
	c := &Claimer{Maildir: md, Log: log}
	last := ""
	inOrder := true
	res, err := c.Scan(0, func(p string) {
		inOrder = inOrder && p > last
		last = p
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Claimed != scanWindow || !res.More || !inOrder {
		t.Fatalf("first scan: %+v, in order %v; want %d claimed and More", res, inOrder, scanWindow)
	}
	var left []string
	for i := scanWindow; i < n; i++ {
		left = append(left, fmt.Sprintf("%06d", i))
	}
	if d := cmp.Diff(left, ls(t, md, "new")); d != "" {
		t.Errorf("new/ after the first window (-want +got):\n%s", d)
	}
	res, err = c.Scan(0, func(string) {})
	if err != nil || res.Claimed != 5 || res.More {
		t.Errorf("second scan: %+v, %v; want the 5 left and no More", res, err)
	}
}

// TestScanRace runs two Claimers over one maildir at once: every message is
// claimed exactly once, and losing a race is quiet (mdpipe(7), RULES: the
// owner rule).
func TestScanRace(t *testing.T) {
	bothRenames(t, func(t *testing.T) {
		md := newMaildir(t)
		const n = 2000
		for i := 0; i < n; i++ {
			f, err := os.Create(filepath.Join(md, "new", fmt.Sprintf("%d.M%dP1.host", 1700000000+i/10, i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
		const runners = 2
		var (
			wg      sync.WaitGroup
			claims  [runners][]string
			logs    [runners]string
			refused [runners]int
			errs    [runners]error
		)
		for r := 0; r < runners; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				log, buf := testLog()
				c := &Claimer{Maildir: md, Log: log}
				// Small windows make the two runners meet often.
				for {
					res, err := c.Scan(7, func(p string) { claims[r] = append(claims[r], p) })
					refused[r] += res.Refused
					if err != nil {
						errs[r] = err
						return
					}
					if !res.More && res.Claimed == 0 {
						break
					}
				}
				logs[r] = buf.String()
			}()
		}
		wg.Wait()
		seen := map[string]int{}
		for r := 0; r < runners; r++ {
			if errs[r] != nil || logs[r] != "" || refused[r] != 0 {
				t.Errorf("runner %d: err %v, refused %d, log %q; want a quiet run", r, errs[r], refused[r], logs[r])
			}
			for _, p := range claims[r] {
				seen[p]++
			}
		}
		if len(seen) != n {
			t.Errorf("%d distinct claims, want %d", len(seen), n)
		}
		for p, k := range seen {
			if k != 1 {
				t.Errorf("%s claimed %d times", p, k)
			}
		}
		if left := ls(t, md, "new"); len(left) != 0 {
			t.Errorf("new/ still holds %d files", len(left))
		}
		if got := len(ls(t, md, "cur")); got != n {
			t.Errorf("cur/ holds %d files, want %d", got, n)
		}
		t.Logf("runner claims: %d + %d", len(claims[0]), len(claims[1]))
	})
}

// TestScanRetry checks mdclaim -x: parked failures are claimed again;
// claims, other cur/ messages and dot-files are not.
func TestScanRetry(t *testing.T) {
	bothRenames(t, func(t *testing.T) {
		md := newMaildir(t)
		put(t, md, "cur/2.b:1,X")
		put(t, md, "cur/1.a:1,X")
		put(t, md, "cur/3.c:1,P")
		put(t, md, "cur/4.d:2,S")
		put(t, md, "cur/.5.e:1,X")
		put(t, md, "new/6.f")
		log, buf := testLog()
		c := &Claimer{Maildir: md, Log: log, Retry: true}
		var got []string
		res, err := c.Scan(0, func(p string) { got = append(got, p) })
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{md + "/cur/1.a:1,P", md + "/cur/2.b:1,P"}, got); d != "" {
			t.Errorf("claims (-want +got):\n%s", d)
		}
		if res.Claimed != 2 || res.Refused != 0 {
			t.Errorf("result %+v", res)
		}
		if d := cmp.Diff([]string{".5.e:1,X", "1.a:1,P", "2.b:1,P", "3.c:1,P", "4.d:2,S"}, ls(t, md, "cur")); d != "" {
			t.Errorf("cur/ (-want +got):\n%s", d)
		}
		if d := cmp.Diff([]string{"6.f"}, ls(t, md, "new")); d != "" {
			t.Errorf("new/ (-want +got):\n%s", d)
		}
		if buf.Len() != 0 {
			t.Errorf("log: %q", buf)
		}
	})
}

func TestScanMissingMaildir(t *testing.T) {
	log, _ := testLog()
	c := &Claimer{Maildir: filepath.Join(t.TempDir(), "nosuch"), Log: log}
	_, err := c.Scan(0, func(string) { t.Error("emitted from a missing maildir") })
	if err == nil || !strings.Contains(err.Error(), "cannot read") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Scan = %v, want a not-exist error naming the directory", err)
	}
}

// A missing cur/ is an error naming it, not a claim "another runner won":
// every rename would fail with ENOENT, and the intake would look empty.
func TestScanMissingCur(t *testing.T) {
	md := newMaildir(t)
	put(t, md, "new/1")
	if err := os.Remove(filepath.Join(md, "cur")); err != nil {
		t.Fatal(err)
	}
	log, _ := testLog()
	c := &Claimer{Maildir: md, Log: log}
	res, err := c.Scan(0, func(string) { t.Error("emitted without a cur/") })
	want := "cannot claim into '" + filepath.Join(md, "cur") + "'"
	if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, fs.ErrNotExist) || res.Claimed != 0 {
		t.Errorf("Scan = %+v, %v; want an error containing %q", res, err, want)
	}
	if got := ls(t, md, "new"); len(got) != 1 {
		t.Errorf("new/ = %v, want the message left there", got)
	}
}

// oldestIn runs oldest on dir, opened for it.
func oldestIn(t *testing.T, dir string, limit int, keep func(string, fs.FileMode) bool) ([]entry, bool, error) {
	t.Helper()
	fd, err := openDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return oldest(dir, fd, limit, keep)
}

// TestBadEntriesBounded fills new/ with more bad entries than the
// Claimer remembers: each remembered one is logged once, the rest are
// said in one line, and reading new/ again logs nothing more; the memory
// is never cleared for a new flood of the same lines.
func TestBadEntriesBounded(t *testing.T) {
	defer func(m int) { maxBad = m }(maxBad)
	maxBad = 50
	md := newMaildir(t)
	for i := range 3 * maxBad {
		putLink(t, md, fmt.Sprintf("new/%04d.link", i), "/etc/passwd")
	}
	put(t, md, "new/9999.msg")
	log, buf := testLog()
	c := &Claimer{Maildir: md, Log: log}
	for i := range 3 {
		res, err := c.Scan(0, func(string) {})
		if err != nil || res.Claimed != map[int]int{0: 1}[i] {
			t.Fatalf("scan %d: %+v, %v", i, res, err)
		}
	}
	got := logLines(buf)
	if len(got) != maxBad+1 {
		t.Fatalf("%d log lines, want %d and one summary:\n%s", len(got), maxBad, strings.Join(got, "\n"))
	}
	if !strings.Contains(got[len(got)-1], "skipping the rest without a word") {
		t.Errorf("last line %q is not the summary", got[len(got)-1])
	}
	if len(c.bad.known) > maxBad {
		t.Errorf("remembers %d entries, more than %d", len(c.bad.known), maxBad)
	}
	// Entries that left new/ are forgotten, one by one.
	for i := range 3 * maxBad {
		os.Remove(filepath.Join(md, "new", fmt.Sprintf("%04d.link", i)))
	}
	c.Scan(0, func(string) {})
	if len(c.bad.known) != 0 {
		t.Errorf("remembers %d entries that left new/", len(c.bad.known))
	}
}
