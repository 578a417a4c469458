package handoff

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/fault"
	"mdpipe/internal/intake"
	"mdpipe/internal/logline"
	"mdpipe/internal/testkit"
)

const testMessage = "Return-Path: <alice@example.org>\nDelivered-To: mylist@lists.example.test\nSubject: hi\n\nhello\n"

// newClaim writes a claimed message (MAILDIR/cur/B:1,P) into a fresh
// intake maildir.
func newClaim(t *testing.T, body string) intake.Claim {
	t.Helper()
	return claimIn(t, t.TempDir(), "1700000000.M1P1.test", body)
}

func present(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func testLog(buf *bytes.Buffer) *logline.Log {
	l := logline.New("mdsweep")
	l.SetOutput(buf)
	return l
}

var post = Dest{List: "mylist", Subqueue: "post", Recipient: "mylist@lists.example.test"}

// outcomeOf names a hand-off's result the way mdsweep acts on it.
func outcomeOf(err error) string {
	switch {
	case err == nil:
		return "delivered"
	case fault.IsTemporary(err):
		return "temporary"
	}
	return "permanent"
}

func TestCommandExits(t *testing.T) {
	for _, tc := range []struct {
		script string
		want   string
	}{
		{"exit 0", "delivered"},
		{"exit 100", "permanent"},
		{"exit 64", "permanent"},
		{"exit 112", "permanent"},
		{"exit 111", "temporary"},
		{"exit 1", "temporary"},
		{"kill -9 $$", "temporary"},
		// Reads a few bytes of a message larger than a pipe holds, then
		// says delivered: delivered, whatever the rest of stdin.
		{"head -c 10 >/dev/null; exit 0", "delivered"},
		{"head -c 10 >/dev/null; exit 111", "temporary"},
		{"/nonexistent/command", "temporary"}, // sh exits 127
	} {
		t.Run(tc.script, func(t *testing.T) {
			c := newClaim(t, testMessage+strings.Repeat("x", 1<<20)+"\n")
			var log bytes.Buffer
			cmd := &Command{Command: tc.script, Timeout: time.Minute, Log: testLog(&log)}
			err := cmd.HandOff(context.Background(), c, []Dest{post})
			if got := outcomeOf(err); got != tc.want {
				t.Fatalf("got %s (%v), want %s; log:\n%s", got, err, tc.want, log.String())
			}
			if kept := present(c.Path); kept != (tc.want != "delivered") {
				t.Errorf("claim kept: %v, after %s", kept, tc.want)
			}
			if err := cmd.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestCommandEnvironment(t *testing.T) {
	c := newClaim(t, testMessage)
	dir := t.TempDir()
	// The lock is held while the command runs: flock -n must fail.
	script := `env >"$OUT/env"; cat >"$OUT/stdin"
		if flock -n "$MESSAGE" true; then echo unlocked >"$OUT/lock"; fi
		echo to stdout; echo to stderr >&2; printf 'no newline'`
	t.Setenv("OUT", dir)
	t.Setenv("LIST", "overridden")
	var log bytes.Buffer
	cmd := &Command{Command: script, Timeout: time.Minute, Log: testLog(&log)}
	d := Dest{List: "mylist", Subqueue: "bounces", Recipient: "mylist-bounces+bob=example.net@lists.example.test"}
	if err := cmd.HandOff(context.Background(), c, []Dest{d}); err != nil {
		t.Fatalf("%v; log:\n%s", err, log.String())
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range []string{
		"LIST=mylist", "SUBQUEUE=bounces",
		"RECIPIENT=mylist-bounces+bob=example.net@lists.example.test",
		"DETAIL=bob=example.net", "SENDER=alice@example.org", "MESSAGE=" + c.Path,
		"LOCAL=mylist-bounces+bob=example.net", "HOST=lists.example.test",
	} {
		// A newline before: the variable may be env's first line (a
		// test run under env -i has few others).
		if !bytes.Contains(append([]byte("\n"), env...), []byte("\n"+kv+"\n")) {
			t.Errorf("environment lacks %s:\n%s", kv, env)
		}
	}
	if in, _ := os.ReadFile(filepath.Join(dir, "stdin")); string(in) != testMessage {
		t.Errorf("stdin: %q, want the message", in)
	}
	if present(filepath.Join(dir, "lock")) {
		t.Error("the claim was not locked while the command ran")
	}
	prefix := "mdsweep: command '" + c.Path + "': "
	for _, line := range []string{"to stdout", "to stderr", "no newline"} {
		if !strings.Contains(log.String(), prefix+line+"\n") {
			t.Errorf("log lacks %q:\n%s", prefix+line, log.String())
		}
	}
	if present(c.Path) {
		t.Error("claim kept after exit 0")
	}
}

func TestCommandNullSenderAndDelimiters(t *testing.T) {
	c := newClaim(t, strings.Replace(testMessage, "<alice@example.org>", "<>", 1))
	dir := t.TempDir()
	t.Setenv("OUT", dir)
	cmd := &Command{Command: `printf '%s|%s|%s' "$SENDER" "$DETAIL" "$LOCAL" >"$OUT/v"`,
		Timeout: time.Minute, Delims: "-+", Log: testLog(new(bytes.Buffer))}
	d := Dest{List: "mylist", Subqueue: "confirm", Recipient: "mylist-confirm+c0ffee@lists.example.test"}
	if err := cmd.HandOff(context.Background(), c, []Dest{d}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "v"))
	if want := "|confirm+c0ffee|mylist-confirm+c0ffee"; string(got) != want {
		t.Errorf("SENDER|DETAIL|LOCAL = %q, want %q", got, want)
	}
}

// A command that hangs is killed after Timeout, with what it started, and
// counts as temporary.
func TestCommandTimeout(t *testing.T) {
	c := newClaim(t, testMessage)
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("PIDFILE", pidFile)
	cmd := &Command{Command: `sleep 300 & echo $! >"$PIDFILE"; wait`,
		Timeout: 300 * time.Millisecond, Log: testLog(new(bytes.Buffer))}
	start := time.Now()
	err := cmd.HandOff(context.Background(), c, []Dest{post})
	took := time.Since(start)
	t.Logf("hand-off took %v", took)
	if !fault.IsTemporary(err) || err == nil || !strings.Contains(err.Error(), "killed after 300ms") {
		t.Fatalf("got %v, want a temporary kill", err)
	}
	if took > 5*time.Second {
		t.Errorf("the kill took %v", took)
	}
	if !present(c.Path) {
		t.Error("claim dropped after a timeout")
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if !testkit.Until(5*time.Second, func() bool { return !testkit.Alive(pid) }) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Fatalf("the command's child %d outlived the kill", pid)
	}
}

// A command that exits 0 but leaves a process holding its output has
// delivered: the hand-off does not wait for that process, nor fail.
func TestCommandLeavesProcessBehind(t *testing.T) {
	c := newClaim(t, testMessage)
	pidFile := filepath.Join(t.TempDir(), "pid")
	t.Setenv("PIDFILE", pidFile)
	cmd := &Command{Command: `sleep 300 & echo $! >"$PIDFILE"; exit 0`,
		Timeout: time.Minute, Log: testLog(new(bytes.Buffer))}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pidFile); err == nil {
			pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	start := time.Now()
	if err := cmd.HandOff(context.Background(), c, []Dest{post}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the hand-off waited %v for a process left behind", took)
	}
	if present(c.Path) {
		t.Error("claim kept after exit 0")
	}
}

// With several recipients, a retry runs the command only for those that
// failed temporarily; a refusal among deliveries drops the claim, logged.
func TestCommandSeveralRecipients(t *testing.T) {
	c := newClaim(t, testMessage)
	dir := t.TempDir()
	t.Setenv("OUT", dir)
	// mylist: delivered; other: 111 the first time, then 0; third: 100.
	script := `echo x >>"$OUT/$LIST"
		case $LIST in
		other) [ $(wc -l <"$OUT/$LIST") -gt 1 ] || exit 111;;
		third) exit 100;;
		esac`
	var log bytes.Buffer
	cmd := &Command{Command: script, Timeout: time.Minute, Log: testLog(&log)}
	dests := []Dest{post,
		{List: "other", Subqueue: "post", Recipient: "other@lists.example.test"},
		{List: "third", Subqueue: "post", Recipient: "third@lists.example.test"},
		post, // a repeated record adds nothing
	}
	if err := cmd.HandOff(context.Background(), c, dests); !fault.IsTemporary(err) || err == nil {
		t.Fatalf("first try: %v, want temporary", err)
	}
	if err := cmd.HandOff(context.Background(), c, dests); err != nil {
		t.Fatalf("retry: %v", err)
	}
	for list, want := range map[string]int{"mylist": 1, "other": 2, "third": 1} {
		b, _ := os.ReadFile(filepath.Join(dir, list))
		if n := bytes.Count(b, []byte("\n")); n != want {
			t.Errorf("%s ran %d times, want %d", list, n, want)
		}
	}
	if present(c.Path) {
		t.Error("claim kept, though two recipients took it")
	}
	if !strings.Contains(log.String(), "some recipients only, not parked '"+c.Path+"': command exited 100") {
		t.Errorf("refusal not logged:\n%s", log.String())
	}
}

func TestCommandEveryRecipientRefuses(t *testing.T) {
	c := newClaim(t, testMessage)
	cmd := &Command{Command: "exit 100", Timeout: time.Minute, Log: testLog(new(bytes.Buffer))}
	dests := []Dest{post, {List: "other", Subqueue: "post", Recipient: "other@lists.example.test"}}
	if err := cmd.HandOff(context.Background(), c, dests); err == nil || fault.IsTemporary(err) {
		t.Fatalf("got %v, want permanent", err)
	}
	if !present(c.Path) {
		t.Error("claim dropped, though it must be parked")
	}
}

// A failing command's last line says why, in the error that becomes the
// reason kept with the parked message: stderr's, else stdout's.
func TestCommandFailureSaysWhy(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{`echo "Usage: inject" >&2; echo "Error: No such list: x" >&2; echo; exit 100`, "command exited 100: Error: No such list: x"},
		{`echo "554 refused"; exit 100`, "command exited 100: 554 refused"},
		{`exit 111`, "command exited 111"},
	} {
		claim := newClaim(t, testMessage)
		cmd := &Command{Command: c.script, Timeout: time.Minute, Log: testLog(new(bytes.Buffer))}
		if err := cmd.HandOff(context.Background(), claim, []Dest{post}); err == nil || err.Error() != c.want {
			t.Errorf("%s: got %v, want %q", c.script, err, c.want)
		}
	}
}

func TestCommandUnsafeList(t *testing.T) {
	c := newClaim(t, testMessage)
	dir := t.TempDir()
	t.Setenv("OUT", dir)
	cmd := &Command{Command: `touch "$OUT/ran"`, Timeout: time.Minute, Log: testLog(new(bytes.Buffer))}
	d := Dest{List: "../etc", Subqueue: "post", Recipient: "x@lists.example.test"}
	if err := cmd.HandOff(context.Background(), c, []Dest{d}); err == nil || fault.IsTemporary(err) {
		t.Fatalf("got %v, want permanent", err)
	}
	if present(filepath.Join(dir, "ran")) {
		t.Error("the command ran for an unsafe LIST")
	}
}

func TestCommandClaimGone(t *testing.T) {
	c := newClaim(t, testMessage)
	os.Remove(c.Path)
	cmd := &Command{Command: "exit 111", Timeout: time.Minute, Log: testLog(new(bytes.Buffer))}
	if err := cmd.HandOff(context.Background(), c, []Dest{post}); err != fault.ErrGone {
		t.Errorf("got %v, want fault.ErrGone: someone else acted first", err)
	}
}

func TestSplitRecipient(t *testing.T) {
	for _, tc := range []struct{ rcpt, delims, local, host, detail string }{
		{"mylist@lists.example.test", "", "mylist", "lists.example.test", ""},
		{"mylist-bounces+a=b.org@x.test", "", "mylist-bounces+a=b.org", "x.test", "a=b.org"},
		{"mylist-confirm+c0ffee+x@x.test", "+", "mylist-confirm+c0ffee+x", "x.test", "c0ffee+x"},
		{"mylist-join@x.test", "-+", "mylist-join", "x.test", "join"},
		{"noat", "", "noat", "", ""},
	} {
		l, h, d := splitRecipient(tc.rcpt, tc.delims)
		if l != tc.local || h != tc.host || d != tc.detail {
			t.Errorf("splitRecipient(%q, %q) = %q %q %q, want %q %q %q", tc.rcpt, tc.delims, l, h, d, tc.local, tc.host, tc.detail)
		}
	}
}

// The qmail-local and Postfix variables, for the address mdsweep(1)'s
// table shows, as a .qmail program sees them.
func TestCommandQmailEnvironment(t *testing.T) {
	c := newClaim(t, strings.Replace(testMessage, "<alice@example.org>", "<bob@example.net>", 1))
	dir := t.TempDir()
	t.Setenv("OUT", dir)
	t.Setenv("DEFAULT", "stale")
	cmd := &Command{Command: `env -0 >"$OUT/env"`, Timeout: time.Minute, Log: testLog(new(bytes.Buffer))}
	d := Dest{List: "mylist", Subqueue: "bounces", Recipient: "mylist-bounces+alice=example.org@lists.example.org"}
	if err := cmd.HandOff(context.Background(), c, []Dest{d}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	env := make(map[string]string)
	for _, kv := range strings.Split(string(raw), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env[k] = v
		}
	}
	want := map[string]string{
		"LIST": "mylist", "SUBQUEUE": "bounces", "MESSAGE": c.Path,
		"RECIPIENT":          "mylist-bounces+alice=example.org@lists.example.org",
		"ORIGINAL_RECIPIENT": "mylist-bounces+alice=example.org@lists.example.org",
		"LOCAL":              "mylist-bounces+alice=example.org",
		"HOST":               "lists.example.org",
		"HOST2":              "lists.example", "HOST3": "lists", "HOST4": "lists",
		"DETAIL": "alice=example.org",
		"SENDER": "bob@example.net",
		"EXT":    "mylist-bounces+alice=example.org",
		"EXT2":   "bounces+alice=example.org",
		"EXT3":   "", "EXT4": "",
		"DEFAULT": "bounces+alice=example.org",
		"DTLINE":  "Delivered-To: mylist-bounces+alice=example.org@lists.example.org\n",
		"RPLINE":  "Return-Path: <bob@example.net>\n",
	}
	for k, v := range want {
		if got, ok := env[k]; !ok || got != v {
			t.Errorf("%s = %q (set: %v), want %q", k, got, ok, v)
		}
	}
	if uf := env["UFLINE"]; !strings.HasPrefix(uf, "From bob@example.net ") || !strings.HasSuffix(uf, "\n") || len(uf) != len("From bob@example.net Tue Dec  1 22:43:29 2026\n") {
		t.Errorf("UFLINE = %q", uf)
	}
}

func TestCommandEnvDefault(t *testing.T) {
	for _, tc := range []struct{ list, rcpt, def string }{
		{"mylist", "mylist@x.test", ""}, // .qmail-mylist: no DEFAULT
		{"mylist", "mylist-subscribe-bob=y.test@x.test", "subscribe-bob=y.test"},
		{"mylist", "mylist+tag@x.test", "tag"},
		{"mylist@x.test", "mylist-owner@x.test", "owner"},
		{"mylist-bounces", "mylist-bounces@x.test", ""},
	} {
		env := commandEnv([]string{"DEFAULT=stale"}, Dest{List: tc.list, Recipient: tc.rcpt}, "", "p", "+")
		var got []string
		for _, kv := range env {
			if strings.HasPrefix(kv, "DEFAULT=") {
				got = append(got, kv)
			}
		}
		want := []string(nil)
		if tc.def != "" {
			want = []string{"DEFAULT=" + tc.def}
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s for %s: %q, want %q", tc.rcpt, tc.list, got, want)
		}
	}
	if got := ufline("", time.Date(2026, 12, 2, 0, 3, 4, 0, time.UTC)); got != "From MAILER-DAEMON Wed Dec  2 00:03:04 2026\n" {
		t.Errorf("ufline = %q", got)
	}
}
