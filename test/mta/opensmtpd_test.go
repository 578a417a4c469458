package mta

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// smtpdConf is the shipped file: Debian's /etc/smtpd.conf with the mdpipe
// lines in their places.
const smtpdConf = "opensmtpd/smtpd.conf"

// mdpipeBlocks returns conf without the mdpipe blocks: each runs from a
// line starting "# mdpipe" to the line "# mdpipe: end".
func withoutMdpipe(conf string) string {
	var out []string
	in := false
	for _, l := range strings.SplitAfter(conf, "\n") {
		switch {
		case !in && strings.HasPrefix(l, "# mdpipe") && strings.TrimSpace(l) != "# mdpipe: end":
			in = true
		case in && strings.TrimSpace(l) == "# mdpipe: end":
			in = false
		case !in:
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// TestOpenSMTPDConfMatchesFirst checks the order that makes the recipe
// work: OpenSMTPD takes the first match, and Debian's default ends with
// `match from local for any action "relay"`, which relays list mail sent
// from this host away (mail lost). The mdpipe match must come before
// every other match, and its action before it. It needs nothing but the
// file.
func TestOpenSMTPDConfMatchesFirst(t *testing.T) {
	conf := testkit.ReadFile(t, filepath.Join(testkit.ModuleRoot(t), "examples", "mta", smtpdConf))
	action, first := -1, -1
	for i, l := range strings.Split(conf, "\n") {
		switch {
		case strings.HasPrefix(l, `action "mdpipe" `):
			action = i
		case strings.HasPrefix(l, "match ") && first < 0:
			first = i
			if !strings.HasSuffix(l, `action "mdpipe"`) {
				t.Errorf("%s: the first match line is %q, not the mdpipe one: it takes list mail first", smtpdConf, l)
			}
		}
	}
	if action < 0 || first < 0 || action > first {
		t.Errorf("%s: action \"mdpipe\" on line %d, first match on line %d: want the action defined before every match", smtpdConf, action+1, first+1)
	}
}

// TestOpenSMTPDConfIsDebians checks that the shipped smtpd.conf is
// Debian's default, byte for byte, once the mdpipe blocks are taken out:
// a reader replaces /etc/smtpd.conf with it and loses nothing of Debian's.
func TestOpenSMTPDConfIsDebians(t *testing.T) {
	root := mtaRoot(t, "opensmtpd", "etc/smtpd.conf")
	shipped := withoutMdpipe(testkit.ReadFile(t, filepath.Join(testkit.ModuleRoot(t), "examples", "mta", smtpdConf)))
	debian := testkit.ReadFile(t, filepath.Join(root, "etc", "smtpd.conf"))
	if shipped != debian {
		t.Errorf("examples/mta/%s without its mdpipe blocks differs from Debian's /etc/smtpd.conf:\n--- shipped\n%s\n--- Debian\n%s", smtpdConf, shipped, debian)
	}
}

// TestOpenSMTPD runs the shipped smtpd.conf with Debian's OpenSMTPD.
// The test changes two lines of it, both Debian's, none of mdpipe's:
// `listen on localhost` becomes a free loopback port, and the aliases
// table a private copy of /etc/aliases.
func TestOpenSMTPD(t *testing.T) {
	root := mtaRoot(t, "opensmtpd", "usr/sbin/smtpd")
	requireLive(t)
	systemUsers(t, "opensmtpd", "opensmtpq") // Debian's --with-user-smtpd, --with-user-queue
	s := newSite(t)

	port := testkit.FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	aliases := filepath.Join(s.base, "aliases")
	testkit.WriteFile(t, aliases, "postmaster: root\n")
	conf := s.recipe(t, smtpdConf)
	for _, r := range [][2]string{
		{"\nlisten on localhost\n", "\nlisten on 127.0.0.1 port " + strconv.Itoa(port) + "\n"},
		{"\ntable aliases file:/etc/aliases\n", "\ntable aliases file:" + aliases + "\n"},
	} {
		if strings.Count(conf, r[0]) != 1 {
			t.Fatalf("examples/mta/%s: no line %q, which the test changes", smtpdConf, strings.TrimSpace(r[0]))
		}
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	confFile := filepath.Join(s.base, "smtpd.conf")
	testkit.WriteFile(t, confFile, conf)
	smtpd := filepath.Join(root, "usr", "sbin", "smtpd")
	if out, err := exec.Command(smtpd, "-n", "-f", confFile).CombinedOutput(); err != nil {
		t.Fatalf("smtpd -n: %v: %s\n%s", err, out, conf)
	}

	// Built-in paths: the queue /var/spool/smtpd, the chroot
	// /var/lib/opensmtpd/empty, the control socket /var/run/smtpd.sock,
	// and the delivery agents in /usr/libexec/opensmtpd.
	priv := filepath.Join(s.base, "priv")
	for _, d := range []string{"var/lib/opensmtpd/empty", "var/spool", "run"} {
		testkit.Mkdir(t, filepath.Join(priv, d), 0o755)
	}
	testkit.Mkdir(t, filepath.Join(priv, "var/lib/opensmtpd"), 0o755)
	d := startDaemon(t, filepath.Join(s.base, "smtpd.log"), [][2]string{
		{filepath.Join(root, "usr", "libexec"), "/usr/libexec"},
		{filepath.Join(priv, "var/lib"), "/var/lib"},
		{filepath.Join(priv, "var/spool"), "/var/spool"},
		{filepath.Join(priv, "run"), "/run"},
	}, smtpd, "-d", "-f", confFile)
	d.waitListening(t, addr)
	s.deliverAndRoute(t, d, addr, "Delivered-To")
}
