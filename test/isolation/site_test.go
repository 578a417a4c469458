package isolation

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mdpipe/internal/testkit"
)

// site is one intake maildir, the hand-off command's script, the
// directory where that command logs what it took (a file per list), and
// the flag file whose presence makes list a's hand-off fail.
type site struct {
	t      *testing.T
	root   string
	intake string
	logs   string
	flag   string
	script string
}

// handoff is the command mdsweep -c runs for each recipient. It exits 111
// (temporary) for list a, or for every list if $ISO_FAILALL is set, while
// the flag file exists, and counts that try in the log "failed";
// otherwise, after $ISO_SLOW seconds for list
// $ISO_SLOWLIST, it appends the message's Message-ID, recipient and
// sender to the list's log, so that the test sees every hand-off and can
// count them (one short O_APPEND write each). It reads the message with
// the shell's own read, not a sed per message: 500 forks fewer on a
// shared machine.
const handoff = `#!/bin/sh
if { [ "$LIST" = a ] || [ -n "$ISO_FAILALL" ]; } && [ -e "$ISO_FLAG" ]; then
	cat >/dev/null
	echo "$LIST" >>"$ISO_LOGS/failed"
	exit 111
fi
if [ -n "$ISO_SLOW" ] && [ "$LIST" = "$ISO_SLOWLIST" ]; then
	sleep "$ISO_SLOW"
fi
id=
while IFS= read -r line; do
	case $line in
	"Message-ID: "*) [ -n "$id" ] || id=${line#Message-ID: } ;;
	esac
done
printf '%s %s %s\n' "$id" "$RECIPIENT" "$SENDER" >>"$ISO_LOGS/$LIST"
`

func newSite(t *testing.T) *site {
	t.Helper()
	root := t.TempDir()
	s := &site{t: t, root: root, intake: filepath.Join(root, "intake"), logs: filepath.Join(root, "logs"),
		flag: filepath.Join(root, "flag"), script: filepath.Join(root, "handoff")}
	for _, d := range []string{"tmp", "new", "cur"} {
		testkit.Mkdir(t, filepath.Join(s.intake, d), 0o755)
	}
	testkit.Mkdir(t, s.logs, 0o755)
	if err := os.WriteFile(s.script, []byte(handoff), 0o755); err != nil {
		t.Fatal(err)
	}
	return s
}

// env is what the pipeline's stages get besides PATH: the script's
// settings, which mdsweep passes on to the command.
func (s *site) env(extra ...string) []string {
	return append([]string{"ISO_FLAG=" + s.flag, "ISO_LOGS=" + s.logs}, extra...)
}

// msgName is the maildir name B of the i-th test message: names sort in
// the order of i, which is the order mdclaim claims them in.
func msgName(i int) string { return fmt.Sprintf("1800000000.M%06dP1Q1.iso", i) }

// msgID is the i-th message's Message-ID, which the command logs.
func msgID(i int) string { return fmt.Sprintf("<m%06d@iso.example.test>", i) }

// message is a message for recipient from sender, with Message-ID id.
func message(rcpt, sender, id string) string {
	return "Return-Path: <" + sender + ">\nDelivered-To: " + rcpt + "\nFrom: " + sender +
		"\nMessage-ID: " + id + "\nSubject: isolation\n\nbody\n"
}

// deliver puts content into new/ as message B, the MTA way (tmp/, then
// a rename).
func (s *site) deliver(b, content string) {
	s.t.Helper()
	tmp := filepath.Join(s.intake, "tmp", b)
	testkit.WriteFile(s.t, tmp, content)
	if err := os.Rename(tmp, filepath.Join(s.intake, "new", b)); err != nil {
		s.t.Fatal(err)
	}
}

// deliverFor delivers message i for LIST@lists.example.test.
func (s *site) deliverFor(i int, list string) {
	s.t.Helper()
	s.deliver(msgName(i), message(list+"@lists.example.test", "sender@example.org", msgID(i)))
}

// names lists dir's entries that are not dot-files, or nothing when dir
// is unreadable (a poll goes on).
func names(dir string) []string {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range es {
		if !strings.HasPrefix(e.Name(), ".") {
			out = append(out, e.Name())
		}
	}
	return out
}

// claims counts the claims, cur/B:1,P, held now.
func (s *site) claims() int {
	n := 0
	for _, name := range names(filepath.Join(s.intake, "cur")) {
		if strings.HasSuffix(name, ":1,P") {
			n++
		}
	}
	return n
}

// claimNames returns the claims held now, sorted.
func (s *site) claimNames() []string {
	var out []string
	for _, name := range names(filepath.Join(s.intake, "cur")) {
		if strings.HasSuffix(name, ":1,P") {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// inIntake returns where message B still has an entry in the intake,
// in any of its directories and under whatever name a state gives it
// (B, B:1,P, B:1,X, or any other B:... or B,...): a message is not lost
// while it has one, and is gone from the intake once it has none.
func (s *site) inIntake(b string) []string {
	var at []string
	filepath.WalkDir(s.intake, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if name := d.Name(); name == b || strings.HasPrefix(name, b+":") || strings.HasPrefix(name, b+",") {
			rel, _ := filepath.Rel(s.intake, p)
			at = append(at, rel)
		}
		return nil
	})
	return at
}

// handedOff returns the lines list's command logged: one per hand-off.
func (s *site) handedOff(list string) []string {
	b, err := os.ReadFile(filepath.Join(s.logs, list))
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// count returns how many hand-offs list's command logged.
func (s *site) count(list string) int {
	n := 0
	for _, l := range s.handedOff(list) {
		if l != "" {
			n++
		}
	}
	return n
}

// countAll sums count over lists.
func (s *site) countAll(lists ...string) int {
	n := 0
	for _, l := range lists {
		n += s.count(l)
	}
	return n
}

// byID maps each Message-ID the commands logged to the lists it reached,
// once per hand-off.
func (s *site) byID(lists ...string) map[string][]string {
	m := map[string][]string{}
	for _, l := range lists {
		for _, line := range s.handedOff(l) {
			if id, _, _ := strings.Cut(line, " "); id != "" {
				m[id] = append(m[id], l)
			}
		}
	}
	return m
}
