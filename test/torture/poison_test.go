package torture

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// The poison mix: about one message in poisonEvery is one of
// the inputs that once split, stalled or stranded a pipeline. The chaos
// runs must still end with every message in its queues, none twice, and
// the junk in new/ left alone, costing only itself.
const (
	poisonEvery = 100
	poisonAt    = 37 // which message of each hundred
)

type poisonKind int

const (
	notPoison    poisonKind = iota
	poisonWide              // class 1: hundreds of records for one claim
	poisonSender            // class 2: a Return-Path no environment or SMTP line can carry
	poisonJunk              // class 3: a normal message, plus a bad entry beside it in new/
)

func (k poisonKind) String() string {
	return [...]string{"none", "wide", "sender", "junk"}[k]
}

func poisonOf(i int) poisonKind {
	if i%poisonEvery != poisonAt {
		return notPoison
	}
	return poisonKind(1 + i/poisonEvery%3)
}

// wideLists are the lists a wide message goes to at once, in one
// Envelope-to, as Exim batches them: enough records (tens of KiB) that
// the reads between mdroute and mdsweep end inside the message.
var wideLists = func() []string {
	l := make([]string, 300)
	for i := range l {
		l[i] = fmt.Sprintf("w%03d", i)
	}
	return l
}()

// wideEnvelope is the Envelope-to field of a wide message after its
// first recipient, and wideDests the queues it must reach besides that
// recipient's.
func wideEnvelope() string {
	var b strings.Builder
	for _, l := range wideLists {
		b.WriteString(", " + l + "@lists.example.test")
	}
	return b.String()
}

func wideDests() []string {
	d := make([]string, len(wideLists))
	for i, l := range wideLists {
		d[i] = filepath.Join(l, "post")
	}
	return d
}

// poisonSenderField is a topmost Return-Path that mdsweep -c or -l could
// never pass on: a NUL, a bare CR, or 200 KB folded. The maildir tree
// needs no sender, so with -q each is handed off like any other message.
func poisonSenderField(i int) string {
	switch i / poisonEvery / 3 % 3 {
	case 0:
		return "Return-Path: <a\x00b@example.org>\n"
	case 1:
		return "Return-Path: <a\rb@example.org>\n"
	}
	return "Return-Path: <" + strings.Repeat("x", 100) + strings.Repeat("\n "+strings.Repeat("x", 78), 2500) + "@example.org>\n"
}

// junkName is the bad entry the writer puts into new/ beside message i
// (poisonJunk), and makeJunk makes it: a symbolic link, a FIFO, a name
// that begins with ':', or a name so long that its claim name would pass
// NAME_MAX. None of them is mail; each must stay where it is.
func junkName(i int) string {
	switch i / poisonEvery / 3 % 4 {
	case 0:
		return fmt.Sprintf("junk%d.symlink", i)
	case 1:
		return fmt.Sprintf("junk%d.fifo", i)
	case 2:
		return fmt.Sprintf(":junk%d", i)
	}
	name := fmt.Sprintf("junk%d.", i)
	return name + strings.Repeat("n", 255-len(name))
}

func makeJunk(intake string, i int) error {
	path := filepath.Join(intake, "new", junkName(i))
	switch i / poisonEvery / 3 % 4 {
	case 0:
		return os.Symlink("/etc/hostname", path)
	case 1:
		return unix.Mkfifo(path, 0o666)
	}
	return os.WriteFile(path, []byte("Delivered-To: alpha@lists.example.test\n\nnot mail\n"), 0o666)
}

// junkIn returns the names of the junk entries the writer made among n
// messages.
func junkIn(n int) map[string]bool {
	junk := map[string]bool{}
	for i := poisonAt; i < n; i += poisonEvery {
		if poisonOf(i) == poisonJunk {
			junk[junkName(i)] = true
		}
	}
	return junk
}

// poisonCounts counts the poison messages among n, by kind.
func poisonCounts(n int) string {
	var c [4]int
	for i := poisonAt; i < n; i += poisonEvery {
		c[poisonOf(i)]++
	}
	return fmt.Sprintf("wide=%d sender=%d junk=%d", c[poisonWide], c[poisonSender], c[poisonJunk])
}
