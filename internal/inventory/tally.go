package inventory

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Tally sums the messages of a scan by state.
type Tally struct {
	Count   [numStates]int
	Oldest  [numStates]time.Duration
	Eldest  [numStates]string // the path of the oldest message of each state
	Reasons map[string]int    // parked messages by reason; "-": none kept
}

// Add counts m.
func (t *Tally) Add(m Message) {
	s := m.State
	if t.Count[s] == 0 || m.Age > t.Oldest[s] {
		t.Oldest[s], t.Eldest[s] = m.Age, m.Path
	}
	t.Count[s]++
	if s == Parked {
		if t.Reasons == nil {
			t.Reasons = make(map[string]int)
		}
		r := m.Reason
		if r == "" {
			r = "-"
		}
		t.Reasons[r]++
	}
}

// Queue is what one list's queue holds for its list manager.
type Queue struct {
	List    string
	Waiting int           // messages in QUEUE/LIST/SUBQUEUE/new/, all subqueues
	Oldest  time.Duration // the oldest of them, by mtime
}

// ScanQueues reads each list's queue, QUEUE/LIST/SUBQUEUE/new/, the
// maildirs mdsweep -q hands off into: what its list manager has not
// taken yet. A list manager that keeps up keeps them short and young.
func ScanQueues(queue string, now time.Time) ([]Queue, error) {
	lists, err := os.ReadDir(queue)
	if err != nil {
		return nil, err
	}
	var qs []Queue
	for _, l := range lists {
		if !l.IsDir() || strings.HasPrefix(l.Name(), ".") {
			continue
		}
		q := Queue{List: l.Name()}
		subs, _ := os.ReadDir(filepath.Join(queue, l.Name()))
		for _, s := range subs {
			if !s.IsDir() || strings.HasPrefix(s.Name(), ".") {
				continue
			}
			countNew(filepath.Join(queue, l.Name(), s.Name(), "new"), now, &q)
		}
		qs = append(qs, q)
	}
	slices.SortFunc(qs, func(a, b Queue) int { return strings.Compare(a.List, b.List) })
	return qs, nil
}

func countNew(dir string, now time.Time, q *Queue) {
	names, fd, err := readNames(dir)
	if err != nil {
		return // a subqueue not made yet: nothing waits in it
	}
	defer unix.Close(fd)
	for _, n := range names {
		var st unix.Stat_t
		if strings.HasPrefix(n, ".") || unix.Fstatat(fd, n, &st, unix.AT_SYMLINK_NOFOLLOW) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
			continue
		}
		q.Waiting++
		q.Oldest = max(q.Oldest, now.Sub(time.Unix(st.Mtim.Unix())))
	}
}
