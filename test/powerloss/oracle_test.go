package powerloss

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// outcome is a trial's accounting: every message, by what became of it.
type outcome struct {
	messages int
	lost     int // a destination lacks it, and the intake too
	dup      int // a destination has it twice, in a way mdsweep(1) does not admit
	admitted int // twice, in a way "Duplicates" names: taken, and the claim survived the cut
	stranded int // still in the intake after the recovery
	notes    []string
}

func (o *outcome) note(format string, args ...any) {
	o.notes = append(o.notes, fmt.Sprintf(format, args...))
}

// account is the oracle: it reads the disks as the last cut left them,
// and the list manager's store, and says where each message went.
func (tr *trial) account() (outcome, error) {
	o := outcome{messages: len(tr.msgs)}
	left, err := tr.intakeIDs()
	if err != nil {
		return o, err
	}
	var got []delivery
	switch tr.h.target {
	case "command":
		if got, err = commandDeliveries(filepath.Join(tr.root, "store")); err != nil {
			return o, err
		}
	case "lmtp":
		got = tr.lmtp.deliveries()
	}
	for _, m := range tr.msgs {
		if left[m.id] {
			o.stranded++
			o.note("message %s: still in the intake after the recovery", m.id)
			continue
		}
		lost, dup, admitted := false, false, false
		for _, dest := range m.dests {
			var byEpoch [2]int
			if tr.h.target == "maildir" {
				n, bad, err := tr.copies(m, dest)
				if err != nil {
					return o, err
				}
				if bad != "" {
					o.note("message %s: %s", m.id, bad)
				}
				byEpoch[1] = n
			} else {
				for _, d := range got {
					if strings.EqualFold(d.rcpt, dest) && whole(d.data, m) {
						byEpoch[min(d.epoch, 1)]++
					}
				}
			}
			switch n := byEpoch[0] + byEpoch[1]; {
			case n == 0:
				lost = true
				o.note("message %s: lost: not in %s, nor in the intake", m.id, dest)
			case n == 1:
			case tr.h.target != "maildir" && byEpoch[0] == 1 && byEpoch[1] == 1 && tr.survive[m.id]:
				admitted = true
			default:
				dup = true
				o.note("message %s: %d times in %s (%d before the cut, %d after; claim survived the cut: %v)",
					m.id, n, dest, byEpoch[0], byEpoch[1], tr.survive[m.id])
			}
		}
		switch {
		case lost:
			o.lost++
		case dup:
			o.dup++
		case admitted:
			o.admitted++
		}
	}
	return o, nil
}

// copies counts the copies of m in the maildir dest; one that is there
// with other bytes (a copy whose data did not survive) is not m, and is
// said in bad.
func (tr *trial) copies(m message, dest string) (n int, bad string, err error) {
	for _, sub := range []string{"new", "cur"} {
		dir := filepath.Join(tr.queueDisk().backing, "queue", dest, sub)
		ents, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, "", err
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				return 0, "", err
			}
			if bytes.Equal(b, m.data) {
				n++
			} else if idOf(b) == m.id || strings.HasPrefix(e.Name(), m.name) {
				bad = fmt.Sprintf("%s/%s/%s holds %d bytes, not the message's %d", dest, sub, e.Name(), len(b), len(m.data))
			}
		}
	}
	return n, bad, nil
}

// whole says whether a delivery is m, all of it.
func whole(data string, m message) bool {
	return strings.Contains(data, "\nX-Powerloss-Id: "+m.id+"\n") &&
		strings.HasSuffix(data, "\nend of message "+m.id+"\n")
}
