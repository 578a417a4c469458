package tool

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/testkit"
)

// TestMdq runs the pipeline over a message for a list that does not exist
// and one with no envelope recipient, with every log line thrown away:
// what mdq shows comes from the maildir alone. Then a message two hours
// old arrives, and mdq must list, count, measure, alarm on and act on
// them as an operator would use it.
func TestMdq(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	maildir, queue := filepath.Join(dir, "in"), filepath.Join(dir, "Q")
	for _, d := range []string{"new", "cur", "tmp"} {
		mkdirAll(t, filepath.Join(maildir, d))
	}
	mkdirAll(t, filepath.Join(queue, "alpha"))
	const unknown, unroutable, old = "1700000001.M1P1.t", "1700000002.M2P2.t", "1700000003.M3P3.t"
	write(t, filepath.Join(maildir, "new", unknown), "Delivered-To: nolist@lists.example.test\nSubject: x\n\nbody\n")
	write(t, filepath.Join(maildir, "new", unroutable), "Subject: no envelope\n\nbody\n")
	shell(t, dir, `{ mdclaim "$M" | mdroute | mdsweep -q "$Q" | mdfail; } >/dev/null 2>&1; exit 0`, "M="+maildir, "Q="+queue)

	oldPath := filepath.Join(maildir, "new", old)
	write(t, oldPath, "Delivered-To: alpha@lists.example.test\nFrom: =?UTF-8?Q?J=C3=BCrgen?= <j@example.org>\nSubject: =?ISO-8859-1?Q?caf=E9?=\n\nbody\n")
	back := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(oldPath, back, back); err != nil {
		t.Fatal(err)
	}

	// -l: PATH STATE AGE REASON LIST RECIPIENT; -v adds From, Subject, Message-ID.
	out, code := mdq(t, "-l", "-v", maildir)
	lines := map[string][]string{}
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Split(l, "\t")
		if len(f) != 9 {
			t.Fatalf("mdq -l -v line %q: %d fields, want 9", l, len(f))
		}
		lines[filepath.Base(f[0])] = f[1:]
	}
	if code != 0 || len(lines) != 3 {
		t.Fatalf("mdq -l: status %d, %d lines, want 0 and 3:\n%s", code, len(lines), out)
	}
	if f := lines[unknown+":1,X"]; f == nil || f[0] != "parked" || !strings.Contains(f[2], "no such list") || f[3] != "nolist" {
		t.Errorf("the unknown list's message: %q, want parked, no such list, nolist", f)
	}
	if f := lines[unroutable+":1,X"]; f == nil || f[0] != "parked" || !strings.Contains(f[2], "no Delivered-To, X-Original-To, Envelope-to field") {
		t.Errorf("the unroutable message: %q, want parked with its reason", f)
	}
	f := lines[old]
	if f == nil || f[0] != "new" || f[2] != "-" || f[3] != "alpha" || f[5] != "Jürgen <j@example.org>" || f[6] != "café" {
		t.Errorf("the old message: %q, want new, no reason, alpha, decoded From and Subject", f)
	} else if age, _ := strconv.Atoi(f[1]); age < 7000 || age > 7300 {
		t.Errorf("the old message is %s s old, want about 7200", f[1])
	}

	t.Run("metrics", func(t *testing.T) {
		out, code := mdq(t, "-m", "-q", queue, maildir)
		if code != 0 {
			t.Fatalf("mdq -m: status %d", code)
		}
		got := parseMetrics(t, out)
		for sample, want := range map[string]float64{
			`mdpipe_messages{state="parked"}`:       2,
			`mdpipe_messages{state="new"}`:          1,
			`mdpipe_messages{state="claimed"}`:      0,
			`mdpipe_messages{state="stranded"}`:     0,
			`mdpipe_messages{state="deferred"}`:     0,
			`mdpipe_queue_messages{list="alpha"}`:   0,
			`mdpipe_oldest_seconds{state="parked"}`: -1, // present
		} {
			v, ok := got[sample]
			if !ok || (want >= 0 && v != want) {
				t.Errorf("%s = %v (present %v), want %v", sample, v, ok, want)
			}
		}
		if v := got[`mdpipe_oldest_seconds{state="new"}`]; v < 7000 {
			t.Errorf("oldest new is %v s, want at least 7000", v)
		}
	})

	if _, code := mdq(t, "-w", "1h", maildir); code != 111 {
		t.Errorf("mdq -w 1h: status %d, want 111", code)
	}
	if _, code := mdq(t, "-w", "3h", maildir); code != 0 {
		t.Errorf("mdq -w 3h: status %d, want 0", code)
	}

	// -R: the chosen parked message back in new/, its reason gone.
	cur := filepath.Join(maildir, "cur")
	out, code = mdq(t, "-R", filepath.Join(cur, unknown+":1,X"))
	if want := filepath.Join(maildir, "new", unknown) + "\n"; code != 0 || out != want {
		t.Errorf("mdq -R: status %d, output %q, want 0 and %q", code, out, want)
	}
	mustExist(t, filepath.Join(maildir, "new", unknown), true)
	mustExist(t, filepath.Join(cur, unknown+":1,X"), false)
	mustExist(t, filepath.Join(cur, "."+unknown+".why"), false)

	// -D: into the maildir's trash folder, with its reason; nothing unlinked.
	trash := filepath.Join(maildir, ".Trash", "cur")
	if out, code = mdq(t, "-D", filepath.Join(cur, unroutable+":1,X")); code != 0 || out != filepath.Join(trash, unroutable+":1,X")+"\n" {
		t.Errorf("mdq -D: status %d, output %q", code, out)
	}
	mustExist(t, filepath.Join(trash, unroutable+":1,X"), true)
	mustExist(t, filepath.Join(trash, "."+unroutable+".why"), true)
	mustExist(t, filepath.Join(cur, unroutable+":1,X"), false)
}

// mdq runs the mdq the test binary installed, and returns its stdout and
// exit status.
func mdq(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(toolPath(t, "mdq"), args...)
	cmd.Env = toolEnv()
	cmd.Stdin = strings.NewReader("")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	case err != nil:
		t.Fatalf("mdq %q: %v", args, err)
	}
	return string(out), 0
}

// parseMetrics parses the exposition text with the Prometheus client's
// own parser (Debian's python3-prometheus-client), and returns each
// sample by its name and labels.
func parseMetrics(t *testing.T, text string) map[string]float64 {
	t.Helper()
	const script = `
import sys
from prometheus_client.parser import text_string_to_metric_families
for fam in text_string_to_metric_families(sys.stdin.read()):
    for s in fam.samples:
        labels = ",".join('%s="%s"' % kv for kv in sorted(s.labels.items()))
        print("%s{%s}\t%r" % (s.name, labels, s.value))
`
	// Debian's package is for Debian's python3, which another one
	// earlier on PATH (pyenv's, say) does not see.
	python := ""
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(p, "-c", "import prometheus_client.parser").Run() == nil {
			python = p
			break
		}
	}
	if python == "" {
		testkit.SkipMissing(t, "no python3 with prometheus_client to parse the metrics (apt-get install python3 python3-prometheus-client)")
	}
	cmd := exec.Command(python, "-c", script)
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the Prometheus parser refused mdq -m's output: %v\n%s", err, text)
	}
	got := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		name, v, _ := strings.Cut(sc.Text(), "\t")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("parser output %q: %v", sc.Text(), err)
		}
		got[name] = f
	}
	return got
}

func mkdirAll(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func mustExist(t *testing.T, path string, want bool) {
	t.Helper()
	_, err := os.Lstat(path)
	if got := err == nil; got != want {
		t.Errorf("%s exists: %v, want %v", path, got, want)
	}
}
