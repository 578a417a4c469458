package lists

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mdpipe/internal/testkit"
	"mdpipe/internal/testkit/postfixsite"
)

// requirePublicInbox skips (under CI: fails) without Debian's
// public-inbox, which brings git.
func requirePublicInbox(t *testing.T) {
	t.Helper()
	for _, c := range []string{"public-inbox-mda", "public-inbox-init", "public-inbox-httpd", "git"} {
		testkit.NeedCommand(t, c, "public-inbox")
	}
}

// TestPublicInbox: list mail for two inboxes goes through Postfix, the
// intake and mdpipe into public-inbox-mda, which files each in the inbox
// its recipient names; public-inbox-httpd then serves each message by its
// Message-ID from its own inbox, and not from the other.
func TestPublicInbox(t *testing.T) {
	postfixsite.Require(t)
	requirePublicInbox(t)
	began := time.Now()
	t.Cleanup(func() { t.Logf("wall time %v", time.Since(began).Round(time.Millisecond)) })
	s := newSite(t, "mdpipe-public-inbox-")

	// The inboxes' owner's home: its config, the inboxes, the emergency
	// maildir public-inbox-mda keeps a message in until it is filed.
	home := s.mkdir("pi")
	env := []string{"HOME=" + home, "PI_CONFIG=" + filepath.Join(home, "config"),
		"PI_EMERGENCY=" + filepath.Join(home, "emergency")}
	inboxes := []string{"mylist", "other"}
	for _, ibx := range inboxes {
		run(t, &s.own, "", env, "public-inbox-init", "-V2", "-L", "basic",
			ibx, filepath.Join(home, ibx), "http://example.test/"+ibx, ibx+"@"+domain)
	}
	// No spamc here: public-inbox-mda's default spam check is SpamAssassin's.
	run(t, &s.own, "", env, "git", "config", "-f", filepath.Join(home, "config"), "publicinboxmda.spamcheck", "none")
	// mdroute -l: the inboxes, a name a line.
	names := filepath.Join(home, "inboxes")
	testkit.WriteFile(t, names, strings.Join(inboxes, "\n")+"\n")

	s.send(
		postfixsite.Message{ID: "pi-mylist", From: alice, Rcpts: []string{"mylist@" + domain}},
		postfixsite.Message{ID: "pi-other", From: alice, Rcpts: []string{"other@" + domain}},
		// An address no inbox has: public-inbox-mda exits 67 (EX_NOUSER),
		// which the recipe makes permanent.
		postfixsite.Message{ID: "pi-owner", From: alice, Rcpts: []string{"mylist-owner@" + domain}},
	)
	command := strings.NewReplacer("/etc/mdpipe/inboxes", names).Replace(publicInboxCommand)
	route := strings.Fields(strings.NewReplacer("/etc/mdpipe/inboxes", names).Replace(publicInboxRoute))
	parked, log := s.drain(env, route, command, map[string]int{"mdsweep": 100})
	if len(parked) != 1 || parked[0] != "pi-owner" {
		t.Errorf("parked %q, want only pi-owner", parked)
	}
	if !strings.Contains(log, "command exited 100") {
		t.Errorf("mdsweep's log does not say why pi-owner was parked:\n%s", log)
	}

	base := startHTTPD(t, s, env)
	for _, c := range []struct{ id, inbox, not string }{
		{"pi-mylist", "mylist", "other"},
		{"pi-other", "other", "mylist"},
	} {
		mid := strings.Trim(postfixsite.MessageID(c.id), "<>")
		code, body := get(t, base+"/"+c.inbox+"/"+mid+"/raw")
		if code != http.StatusOK || !strings.Contains(body, "X-Test-Id: "+c.id+"\n") {
			t.Errorf("GET /%s/%s/raw: %d, want 200 and the message:\n%s", c.inbox, mid, code, body)
		}
		if code, _ := get(t, base+"/"+c.not+"/"+mid+"/raw"); code != http.StatusNotFound {
			t.Errorf("GET /%s/%s/raw: %d, want 404: the message is in the other inbox", c.not, mid, code)
		}
	}
	// public-inbox-mda keeps a copy of what it could not file in its
	// emergency maildir: only pi-owner.
	for _, p := range testkit.Glob(t, filepath.Join(home, "emergency", "new", "*")) {
		if id := postfixsite.TestID(t, p); id != "pi-owner" {
			t.Errorf("public-inbox-mda left %s (%s) in its emergency maildir", p, id)
		}
	}
}

// startHTTPD starts public-inbox-httpd as the inboxes' owner on a free
// loopback port, in its own process group, which the test's end stops; it
// returns the base URL once the server answers.
func startHTTPD(t *testing.T, s *site, env []string) string {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(testkit.FreePort(t))
	errLog, err := os.Create(filepath.Join(t.TempDir(), "httpd.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("public-inbox-httpd", "-W0", "-l", "http://"+addr)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}, env...)
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = errLog, errLog
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true,
		Credential: &syscall.Credential{Uid: uint32(s.own.UID), Gid: uint32(s.own.GID)}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Errorf("public-inbox-httpd (pid %d) still ran 20s after SIGTERM; killed", cmd.Process.Pid)
		}
	})
	base := "http://" + addr
	if !testkit.Until(60*time.Second, func() bool {
		select {
		case <-exited:
			return true
		default:
		}
		r, err := http.Get(base + "/")
		if err != nil {
			return false
		}
		r.Body.Close()
		return true
	}) {
		t.Fatalf("public-inbox-httpd not answering on %s after 60s:\n%s", addr, testkit.ReadFile(t, errLog.Name()))
	}
	select {
	case <-exited:
		t.Fatalf("public-inbox-httpd exited: %v\n%s", cmd.ProcessState, testkit.ReadFile(t, errLog.Name()))
	default:
	}
	return base
}

// get returns the status and body of a GET.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return r.StatusCode, string(b)
}
