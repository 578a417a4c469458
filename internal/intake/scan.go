package intake

import (
	"container/heap"
	"io/fs"
	"os"
	"slices"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// scanWindow bounds how many names one scan keeps. A backlog of a million
// messages is then claimed a window at a time, in name order within each,
// with memory that does not grow with the backlog (64 Ki names of about
// 40 bytes: a few MiB).
var scanWindow = 64 << 10 // a variable for the tests, which make it small

// entry is one candidate of a scan.
type entry struct {
	name string
	typ  fs.FileMode
}

// openDir opens a directory for oldest and for renames relative to it.
func openDir(dir string) (int, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return fd, nil
}

// oldest returns up to limit entries of dir that pass keep, the
// smallest names first (maildir names start with the delivery time, so
// this is oldest first), and whether more entries remained. It reads the
// directory with getdents(2) into one buffer. The names are gathered as
// they come until there are limit of them; only then do they become a
// max-heap that keeps the smallest, so a name is only copied out of the
// buffer when it enters the heap: a scan of a huge directory allocates
// little, and one that fits the window (the common case) pays one sort
// and no heap. mdclaim claims nothing until this returns, while the
// stages after it wait, so its cost is paid at every start.
// fd is dir, freshly opened (openDir): it is read from where it stands.
func oldest(dir string, fd int, limit int, keep func(string, fs.FileMode) bool) ([]entry, bool, error) {
	var ents []entry
	h := (*nameHeap)(&ents)
	isHeap := false
	more := false
	buf := make([]byte, 64<<10)
	for {
		n, err := unix.ReadDirent(fd, buf)
		if err != nil {
			return nil, false, &os.PathError{Op: "getdents", Path: dir, Err: err}
		}
		if n <= 0 {
			break
		}
		for b := buf[:n]; len(b) > 0; {
			name, typ, rest := parseDirent(b)
			b = rest
			if len(name) == 0 || isDotOrDotDot(name) {
				continue
			}
			if len(ents) >= limit {
				more = true
				if !isHeap {
					heap.Init(h)
					isHeap = true
				}
				if string(name) >= ents[0].name {
					continue // no allocation: the common case in a backlog
				}
			}
			s := string(name)
			t, err := direntType(fd, s, typ)
			if err != nil {
				continue // gone since getdents: another runner took it
			}
			if !keep(s, t) {
				continue
			}
			if len(ents) < limit {
				ents = append(ents, entry{name: s, typ: t})
				continue
			}
			ents[0] = entry{name: s, typ: t}
			heap.Fix(h, 0)
		}
	}
	slices.SortFunc(ents, func(a, b entry) int { return strings.Compare(a.name, b.name) })
	return ents, more, nil
}

// parseDirent splits the first linux_dirent64 off b: d_ino (8 bytes),
// d_off (8), d_reclen (2), d_type (1), then the NUL-terminated name.
func parseDirent(b []byte) (name []byte, typ byte, rest []byte) {
	const nameOff = 19
	if len(b) < nameOff {
		return nil, 0, nil
	}
	reclen := int(*(*uint16)(unsafe.Pointer(&b[16])))
	if reclen < nameOff || reclen > len(b) {
		return nil, 0, nil
	}
	name = b[nameOff:reclen]
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	return name, b[18], b[reclen:]
}

// direntType turns d_type into a file mode type, asking lstat where the
// file system does not fill d_type in.
func direntType(dirfd int, name string, typ byte) (fs.FileMode, error) {
	switch typ {
	case unix.DT_REG:
		return 0, nil
	case unix.DT_DIR:
		return fs.ModeDir, nil
	case unix.DT_LNK:
		return fs.ModeSymlink, nil
	case unix.DT_FIFO:
		return fs.ModeNamedPipe, nil
	case unix.DT_SOCK:
		return fs.ModeSocket, nil
	case unix.DT_CHR:
		return fs.ModeDevice | fs.ModeCharDevice, nil
	case unix.DT_BLK:
		return fs.ModeDevice, nil
	}
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return 0, err
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
		return 0, nil
	case unix.S_IFDIR:
		return fs.ModeDir, nil
	case unix.S_IFLNK:
		return fs.ModeSymlink, nil
	case unix.S_IFIFO:
		return fs.ModeNamedPipe, nil
	case unix.S_IFSOCK:
		return fs.ModeSocket, nil
	}
	return fs.ModeDevice, nil
}

func isDotOrDotDot(name []byte) bool {
	return len(name) == 1 && name[0] == '.' || len(name) == 2 && name[0] == '.' && name[1] == '.'
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
