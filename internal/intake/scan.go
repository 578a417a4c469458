package intake

import (
	"container/heap"
	"errors"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// scanWindow bounds how many names one scan keeps. A backlog of a million
// messages is then claimed a window at a time, in name order within each,
// with memory that does not grow with the backlog.
const scanWindow = 32 << 10

// entry is one candidate of a scan.
type entry struct {
	name string
	typ  fs.FileMode
}

// oldest returns up to limit entries of dir whose names pass keep, the
// smallest names first (maildir names start with the delivery time, so
// this is oldest first), and whether more entries remained. A bounded
// max-heap keeps the smallest names, so memory stays limit entries.
func oldest(dir string, limit int, keep func(string) bool) ([]entry, bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, false, err
	}
	defer f.Close()
	h := &nameHeap{}
	more := false
	for {
		des, err := f.ReadDir(1024)
		for _, de := range des {
			name := de.Name()
			if !keep(name) {
				continue
			}
			e := entry{name: name, typ: de.Type()}
			if h.Len() < limit {
				heap.Push(h, e)
				continue
			}
			more = true
			if name < (*h)[0].name {
				(*h)[0] = e
				heap.Fix(h, 0)
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(des) == 0) {
			break
		}
		if err != nil {
			return nil, false, err
		}
	}
	out := []entry(*h)
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, more, nil
}

// nameHeap is a max-heap on name.
type nameHeap []entry

func (h nameHeap) Len() int           { return len(h) }
func (h nameHeap) Less(i, j int) bool { return h[i].name > h[j].name }
func (h nameHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *nameHeap) Push(x any)        { *h = append(*h, x.(entry)) }
func (h *nameHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}

func notDot(name string) bool { return !strings.HasPrefix(name, ".") }
