package tool

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"mdpipe/internal/testkit"
)

// writeClaim writes a claim of B to mylist in the intake md.
func writeClaim(t *testing.T, md, b string) string {
	t.Helper()
	p := filepath.Join(md, "cur", b+":1,P")
	if err := os.WriteFile(p, []byte("Delivered-To: mylist@lists.example.test\nSubject: "+b+"\n\nhello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startMdroute starts mdroute in a process group of its own, killed at
// the test's end, with pipes to its input and from its output.
func startMdroute(t *testing.T) (*exec.Cmd, io.WriteCloser, *bufio.Reader, *strings.Builder) {
	t.Helper()
	cmd := exec.Command(toolPath(t, "mdroute"))
	cmd.Env = toolEnv()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr := &strings.Builder{}
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	return cmd, in, bufio.NewReader(out), stderr
}

// TestMdrouteFollowsIntake: mdroute keeps the directory of the claims it
// reads open (fsx.KeptDir), and follows the intake by name. An intake
// moved away and made anew while mdroute runs (an admin rebuilding it)
// is, at once, the one the next claim is read from: the claim is routed,
// not skipped as gone.
func TestMdrouteFollowsIntake(t *testing.T) {
	dir := t.TempDir()
	md := testkit.Maildir(t, filepath.Join(dir, "intake"), 0o755)
	cmd, in, out, stderr := startMdroute(t)

	first := writeClaim(t, md, "1700000000.M0P1.test")
	io.WriteString(in, first+"\n")
	// mdroute writes its routes once its input has nothing more waiting:
	// this line is the first claim's, read through the directory kept.
	if line, err := out.ReadString('\n'); err != nil || !strings.HasPrefix(line, first+"\tmylist\tpost\t") {
		t.Fatalf("first claim: %q, %v; stderr:\n%s", line, err, stderr.String())
	}

	// The intake is moved away and made anew, with the next claim in it.
	if err := os.Rename(md, md+".old"); err != nil {
		t.Fatal(err)
	}
	testkit.Maildir(t, md, 0o755)
	next := writeClaim(t, md, "1700003600.M2P1.test")
	io.WriteString(in, next+"\n")
	in.Close()
	rest, err := io.ReadAll(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("mdroute: %v; stderr:\n%s", err, stderr.String())
	}
	if !strings.HasPrefix(string(rest), next+"\tmylist\tpost\t") {
		t.Errorf("the claim in the intake made anew: routes %q, want a route of %s; stderr:\n%s", rest, next, stderr.String())
	}
}

// TestMdrouteHoldsNoMessageAtPause: mdroute closes the messages it read
// together (fsx.Closes), at the latest when its input pauses: once it has
// written the routes of what was waiting, it holds none of them open.
func TestMdrouteHoldsNoMessageAtPause(t *testing.T) {
	dir := t.TempDir()
	md := testkit.Maildir(t, filepath.Join(dir, "intake"), 0o755)
	var claims []string
	for _, b := range []string{"1700000000.M0P1.test", "1700000001.M0P1.test", "1700000002.M0P1.test"} {
		claims = append(claims, writeClaim(t, md, b))
	}
	cmd, in, out, stderr := startMdroute(t)

	io.WriteString(in, strings.Join(claims, "\n")+"\n")
	// Routes are written after the pause's commits: after the last line,
	// every message read is closed.
	for _, c := range claims {
		if line, err := out.ReadString('\n'); err != nil || !strings.HasPrefix(line, c+"\t") {
			t.Fatalf("route of %s: %q, %v; stderr:\n%s", c, line, err, stderr.String())
		}
	}
	fdDir := filepath.Join("/proc", strconv.Itoa(cmd.Process.Pid), "fd")
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err == nil && strings.HasPrefix(target, filepath.Join(md, "cur")+"/") {
			t.Errorf("mdroute, its input paused, holds descriptor %s open on %s", e.Name(), target)
		}
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		t.Errorf("mdroute: %v; stderr:\n%s", err, stderr.String())
	}
}
