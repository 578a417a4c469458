package powerloss

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// handoff is one of mdsweep's hand-off paths, and the calls of it a cut
// comes after (a cut point: the n-th call of that step).
type handoff struct {
	name   string
	twoFS  bool // the queue on a disk of its own: the copy across file systems
	dests  int  // destinations per message
	target string
	steps  []string
}

// The maildir tree's steps are mdsweep(1)'s CRASH SAFETY ones: the claim
// (before step 1), the subqueue made, the copy (2), its rename (3), the
// fsyncs of tmp/ and new/ (4), the claim's unlink (5) and the fsync of
// the intake's cur/ (6); "delivered" is the list manager's taking the
// message before mdsweep has its answer.
var copySteps = []string{"claimed", "subqueue-made", "tmp-created", "tmp-written", "tmp-synced",
	"renamed", "tmp-dir-synced", "new-synced", "claim-unlinked", "cur-synced"}

var handoffs = []handoff{
	{"rename", false, 1, "maildir", []string{"claimed", "subqueue-made", "renamed", "new-synced", "cur-synced"}},
	{"link", false, 2, "maildir", []string{"claimed", "subqueue-made", "linked", "new-synced", "claim-unlinked", "cur-synced"}},
	{"copy", true, 1, "maildir", copySteps},
	{"copy-2dest", true, 2, "maildir", copySteps},
	{"command", false, 1, "command", []string{"claimed", "claim-unlinked", "cur-synced"}},
	{"lmtp", false, 2, "lmtp", []string{"claimed", "delivered", "claim-unlinked", "cur-synced"}},
}

// stepOf names the step a call belongs to.
func stepOf(e event) string {
	q := strings.HasPrefix(e.dir, "queue/")
	switch {
	case e.kind == "delivered":
		return "delivered"
	case e.kind == "rename" && e.dir == "intake/cur":
		return "claimed"
	case e.kind == "rename" && e.dir == "intake/new":
		return "returned"
	case e.kind == "mkdir" && q:
		return "subqueue-made"
	case e.kind == "create" && q && strings.HasSuffix(e.dir, "/tmp"):
		return "tmp-created"
	case e.kind == "write" && q && strings.Contains(e.dir, "/tmp/"):
		return "tmp-written"
	case e.kind == "fsync-file" && q:
		return "tmp-synced"
	case e.kind == "rename" && q && strings.HasSuffix(e.dir, "/new"):
		return "renamed"
	case e.kind == "link" && q:
		return "linked"
	case e.kind == "fsync-dir" && q && strings.HasSuffix(e.dir, "/new"):
		return "new-synced"
	case e.kind == "fsync-dir" && q && strings.HasSuffix(e.dir, "/tmp"):
		return "tmp-dir-synced"
	case e.kind == "unlink" && e.dir == "intake/cur":
		return "claim-unlinked"
	case e.kind == "fsync-dir" && e.dir == "intake/cur":
		return "cur-synced"
	case e.kind == "end":
		return "end"
	}
	return e.kind + ":" + e.dir
}

// message is one message of a trial, and where it must end: a queue
// directory (LIST/SUBQUEUE) or a recipient address, per destination.
type message struct {
	id    string
	name  string
	data  []byte
	dests []string
}

var lists = []string{"alpha", "beta"}

// trial is one cut: a pipeline runs on fresh disks until the cut, the
// disks come back with what survived, the recovery runs, and the oracle
// accounts for every message.
type trial struct {
	no      int
	h       handoff
	nosync  bool   // mdsweep -s before the cut
	step    string // cut after the nth call of step ...
	nth     int
	anyAt   int // ... or after the anyAt-th call of any kind
	lie     bool
	r       *rand.Rand
	bin     string
	root    string
	a, b    *disk
	lmtp    *lmtpStore
	msgs    []message
	cutAt   string
	kept    int             // changes kept beyond the durable ones
	survive map[string]bool // messages in the intake after the cut
	errs    []string
}

func (tr *trial) disks() []*disk {
	if tr.h.twoFS {
		return []*disk{tr.a, tr.b}
	}
	return []*disk{tr.a}
}

func (tr *trial) queueDisk() *disk {
	if tr.h.twoFS {
		return tr.b
	}
	return tr.a
}

// setup makes the intake with its messages, and the lists, on the
// backing directories: durable before the first call.
func (tr *trial) setup(n int) error {
	tr.a = &disk{name: "a", backing: filepath.Join(tr.root, "a"), mnt: filepath.Join(tr.root, "ma")}
	tr.b = &disk{name: "b", backing: filepath.Join(tr.root, "b"), mnt: filepath.Join(tr.root, "mb"), lie: tr.lie}
	if !tr.h.twoFS {
		tr.a.lie = tr.lie // the queue's directories are on this disk
	}
	for _, d := range []string{"a/intake/tmp", "a/intake/new", "a/intake/cur", "ma", "mb", "store"} {
		if err := os.MkdirAll(filepath.Join(tr.root, d), 0o755); err != nil {
			return err
		}
	}
	for _, l := range lists {
		if err := os.MkdirAll(filepath.Join(tr.queueDisk().backing, "queue", l), 0o755); err != nil {
			return err
		}
	}
	for i := range n {
		m := message{id: fmt.Sprintf("%d-%d", tr.no, i), name: fmt.Sprintf("1795900000.M%dP%d.powerloss", tr.no, i)}
		rcpts := []string{lists[i%2] + "@lists.example.test"}
		if tr.h.dests > 1 {
			rcpts = append(rcpts, lists[(i+1)%2]+"@lists.example.test")
		}
		for _, r := range rcpts {
			if tr.h.target == "maildir" {
				m.dests = append(m.dests, strings.TrimSuffix(r, "@lists.example.test")+"/post")
			} else {
				m.dests = append(m.dests, r)
			}
		}
		m.data = fmt.Appendf(nil, "Envelope-to: %s\nFrom: sender@example.org\nTo: %s\nSubject: power loss %s\n"+
			"Message-Id: <%s@powerloss.example>\nX-Powerloss-Id: %s\n\n%s\nend of message %s\n",
			strings.Join(rcpts, ", "), rcpts[0], m.id, m.id, m.id, strings.Repeat("body text\n", 40), m.id)
		if err := os.WriteFile(filepath.Join(tr.a.backing, "intake/new", m.name), m.data, 0o600); err != nil {
			return err
		}
		tr.msgs = append(tr.msgs, m)
	}
	return nil
}

// trigger is the cut point of the first run.
func (tr *trial) trigger() func(event) bool {
	seen := 0
	return func(e event) bool {
		if tr.anyAt > 0 {
			seen++
			return seen == tr.anyAt
		}
		if stepOf(e) == tr.step {
			seen++
		}
		return seen == tr.nth
	}
}

// run runs one pipeline over the mounted disks until it ends or the
// power is cut, and then cuts the power (if it is on) and stops the
// pipeline's processes.
func (tr *trial) run(p *power, epoch int, nosync, recovery bool) (string, error) {
	intake := filepath.Join(tr.a.mnt, "intake")
	var target string
	switch tr.h.target {
	case "maildir":
		target = "-q " + filepath.Join(tr.queueDisk().mnt, "queue")
	case "command":
		target = "-c '" + storeCommand + "'"
	case "lmtp":
		target = "-l " + tr.lmtp.addr
		tr.lmtp.phase(epoch, p)
	}
	r := ""
	if recovery {
		r = "-r 1ns "
	}
	line := fmt.Sprintf("%s/mdclaim %s%s | %s/mdroute | %s/mdsweep %s | %s/mdfail >/dev/null",
		tr.bin, r, intake, tr.bin, tr.bin, target, tr.bin)
	cmd := exec.Command("sh", "-c", line)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "POWERLOSS_STORE=" + filepath.Join(tr.root, "store"),
		fmt.Sprintf("POWERLOSS_EPOCH=%d", epoch)}
	if nosync {
		cmd.Env = append(cmd.Env, "MDSWEEP_NOSYNC=1")
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-p.cutCh:
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		err = <-done
	case <-time.After(2 * time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = errors.New("the pipeline did not finish in 2 minutes")
	}
	p.mu.Lock()
	p.cut(event{kind: "end"})
	p.mu.Unlock()
	return stderr.String(), err
}

// powerDown unmounts the disks and leaves on each what the cut kept:
// the durable changes, and with keepSome a random prefix of the others.
func (tr *trial) powerDown(keepSome bool) error {
	for _, d := range tr.disks() {
		d.unmount()
	}
	for _, d := range tr.disks() {
		keep := 0
		if keepSome {
			keep = prefixLen(tr.r, d.m.pending(), tr.nosync)
			tr.kept += keep
		}
		t, err := d.m.cut(keep)
		if err != nil {
			return fmt.Errorf("disk %s: %v", d.name, err)
		}
		if err := writeTree(d.backing, t); err != nil {
			return err
		}
	}
	return nil
}

func (tr *trial) mount(p *power) error {
	for _, d := range tr.disks() {
		d.p = p
		if err := d.mount(); err != nil {
			return fmt.Errorf("mount %s: %v", d.mnt, err)
		}
	}
	return nil
}

// play runs the trial: the cut run, the cut, the recovery (mdclaim -r,
// then the pipeline again), and a last cut once it has ended, which
// loses nothing only if all of it was durable.
func (tr *trial) play() error {
	p := newPower()
	p.trigger = tr.trigger()
	if err := tr.mount(p); err != nil {
		return err
	}
	tr.run(p, 0, tr.nosync, false) // how a cut run ends says nothing
	tr.cutAt = stepOf(p.cutAt)
	if err := tr.powerDown(true); err != nil {
		return err
	}
	var err error
	if tr.survive, err = tr.intakeIDs(); err != nil {
		return err
	}
	p = newPower()
	if err := tr.mount(p); err != nil {
		return err
	}
	log1, rerr := tr.run(p, 1, false, true)
	if err := tr.powerDown(false); err != nil {
		return err
	}
	if rerr != nil {
		tr.errs = append(tr.errs, fmt.Sprintf("recovery run: %v: %s", rerr, oneLine(log1)))
	}
	return nil
}

// intakeIDs returns the messages the intake holds (new/ or cur/).
func (tr *trial) intakeIDs() (map[string]bool, error) {
	ids := map[string]bool{}
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(tr.a.backing, "intake", sub)
		ents, err := os.ReadDir(dir)
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return nil, err
			}
			if id := idOf(b); id != "" {
				ids[id] = true
			}
		}
	}
	return ids, nil
}

func idOf(b []byte) string {
	_, rest, ok := bytes.Cut(b, []byte("\nX-Powerloss-Id: "))
	if !ok {
		return ""
	}
	id, _, _ := bytes.Cut(rest, []byte("\n"))
	return string(id)
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return strings.ReplaceAll(s, "\n", " | ")
}
