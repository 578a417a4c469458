package powerloss

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// The persistence model of the simulated disk, the one every cut obeys.
// It is no stronger than what POSIX promises, and weaker than what ext4
// or XFS give:
//
//   - A file's data (a write, a truncation) is durable only after an
//     fsync of that file.
//   - A name created, linked or unlinked in a directory (a file, a
//     directory) is durable only after an fsync of that directory.
//   - A rename changes the names of two directories: it is durable only
//     after an fsync of each (ext4 and XFS commit it with either; POSIX
//     says nothing of the kind). It is never half applied: after a cut
//     either both names changed or neither did.
//   - An fsync makes durable only what came before it.
//   - Each disk (file system) is independent of the other.
//   - A cut loses every change that is not durable; one cut in three
//     instead keeps a random prefix, in program order, of those changes.
//   - A kept change keeps the changes that made the names it changed: a
//     rename kept keeps the change that made its source name (a disk
//     writes its journal in order).
//   - A directory whose own name did not survive is lost with all it
//     holds, however often it was fsynced: after a real crash, fsck puts
//     it in lost+found, where no tool looks.

// opKind is what a change to the disk did.
type opKind int

const (
	opCreate opKind = iota // a new file, empty, under a name
	opMkdir
	opLink
	opUnlink
	opRmdir
	opRename
	opWrite
	opTruncate
)

// op is one change, in program order. Paths are relative to the disk's
// root ("" is the root); dir/name is the name it changed.
type op struct {
	kind       opKind
	dir, name  string // the name made, removed, or a rename's source
	dir2, nam2 string // a rename's target
	id         int    // the file (create, link, write, truncate)
	off        int64
	data       []byte // write: the bytes; truncate: nil, off is the size

	need    []string // directories still to fsync before it is durable
	durable bool
	deps    []int // earlier changes it rests on
}

// node is a name's target in a disk's tree: a file (id > 0) or a
// directory (id == dirID).
const dirID = -1

// tree is a disk's content: every directory's names, and every file's
// bytes by file id. Hard links are names sharing an id.
type tree struct {
	names map[string]map[string]int // directory path -> name -> id or dirID
	data  map[int][]byte
}

func newTree() *tree {
	return &tree{names: map[string]map[string]int{"": {}}, data: map[int][]byte{}}
}

func (t *tree) clone() *tree {
	c := &tree{names: map[string]map[string]int{}, data: map[int][]byte{}}
	for d, m := range t.names {
		c.names[d] = maps.Clone(m)
	}
	for id, b := range t.data {
		c.data[id] = slices.Clone(b)
	}
	return c
}

// model is one disk: the tree as of the last restore, and every change
// since, with what has made each durable.
type model struct {
	base *tree
	ops  []op
	// lastWrite is the latest change to each key: a name ("dir/name"),
	// a file's existence ("ino#ID") or its data ("data#ID").
	lastWrite map[string]int
	nextID    int
}

func newModel(base *tree) *model {
	m := &model{base: base, lastWrite: map[string]int{}}
	for id := range base.data {
		m.nextID = max(m.nextID, id)
	}
	return m
}

func (m *model) newID() int { m.nextID++; return m.nextID }

func join(dir, name string) string { return path.Join(dir, name) }

// add logs a change: reads are the keys whose last change it rests on
// (without changing them), writes the ones it changes. The directories a
// change is made in are no dependency: a change in a lost directory is
// lost with it (apply).
func (m *model) add(o op, reads, writes []string) {
	for _, k := range append(slices.Clone(reads), writes...) {
		if i, ok := m.lastWrite[k]; ok && !slices.Contains(o.deps, i) {
			o.deps = append(o.deps, i)
		}
	}
	i := len(m.ops)
	for _, k := range writes {
		m.lastWrite[k] = i
	}
	m.ops = append(m.ops, o)
}

func (m *model) create(dir, name string, id int) {
	m.add(op{kind: opCreate, dir: dir, name: name, id: id, need: []string{dir}},
		nil, []string{join(dir, name), fmt.Sprint("ino#", id)})
}

func (m *model) mkdir(dir, name string) {
	m.add(op{kind: opMkdir, dir: dir, name: name, need: []string{dir}},
		nil, []string{join(dir, name)})
}

func (m *model) link(dir, name string, id int) {
	m.add(op{kind: opLink, dir: dir, name: name, id: id, need: []string{dir}},
		[]string{fmt.Sprint("ino#", id)}, []string{join(dir, name)})
}

func (m *model) unlink(dir, name string, kind opKind) {
	m.add(op{kind: kind, dir: dir, name: name, need: []string{dir}},
		nil, []string{join(dir, name)})
}

func (m *model) rename(dir, name, dir2, name2 string) {
	need := []string{dir}
	if dir2 != dir {
		need = append(need, dir2)
	}
	m.add(op{kind: opRename, dir: dir, name: name, dir2: dir2, nam2: name2, need: need},
		nil, []string{join(dir, name), join(dir2, name2)})
}

func (m *model) write(id int, off int64, data []byte) {
	m.add(op{kind: opWrite, id: id, off: off, data: slices.Clone(data)},
		[]string{fmt.Sprint("ino#", id)}, []string{fmt.Sprint("data#", id)})
}

func (m *model) truncate(id int, size int64) {
	m.add(op{kind: opTruncate, id: id, off: size},
		[]string{fmt.Sprint("ino#", id)}, []string{fmt.Sprint("data#", id)})
}

// fsyncFile makes the file's data changes so far durable.
func (m *model) fsyncFile(id int) {
	for i := range m.ops {
		o := &m.ops[i]
		if (o.kind == opWrite || o.kind == opTruncate) && o.id == id {
			o.durable = true
		}
	}
}

// fsyncDir makes durable the name changes so far in dir (a rename once
// both of its directories have been fsynced since it).
func (m *model) fsyncDir(dir string) {
	for i := range m.ops {
		o := &m.ops[i]
		if o.durable || o.kind == opWrite || o.kind == opTruncate {
			continue
		}
		o.need = slices.DeleteFunc(o.need, func(d string) bool { return d == dir })
		o.durable = len(o.need) == 0
	}
}

// cut returns the tree a power cut leaves: the durable changes, with
// keep of the others (the first ones, in program order), and what each
// kept change rests on.
func (m *model) cut(keep int) (*tree, error) {
	kept := make([]bool, len(m.ops))
	for i, o := range m.ops {
		if o.durable {
			kept[i] = true
		} else if keep > 0 {
			kept[i] = true
			keep--
		}
	}
	for i := len(m.ops) - 1; i >= 0; i-- {
		if kept[i] {
			for _, d := range m.ops[i].deps {
				kept[d] = true
			}
		}
	}
	t := m.base.clone()
	for i, o := range m.ops {
		if !kept[i] {
			continue
		}
		if err := t.apply(o); err != nil {
			return nil, fmt.Errorf("change %d of %d: %v", i, len(m.ops), err)
		}
	}
	return t, nil
}

// pending is how many changes are not durable: the range of a cut's
// random prefix.
func (m *model) pending() int {
	n := 0
	for _, o := range m.ops {
		if !o.durable {
			n++
		}
	}
	return n
}

// apply replays one change. A change made in a directory the cut lost
// is lost with it; a rename whose source name is missing from a
// directory that is there is a bug of the model (its dependencies),
// never of mdpipe.
func (t *tree) apply(o op) error {
	dir := t.names[o.dir]
	if dir == nil && o.kind != opWrite && o.kind != opTruncate {
		return nil // made in a directory the cut lost: lost with it
	}
	switch o.kind {
	case opCreate:
		dir[o.name] = o.id
		t.data[o.id] = nil
	case opMkdir:
		dir[o.name] = dirID
		t.names[join(o.dir, o.name)] = map[string]int{}
	case opLink:
		dir[o.name] = o.id
	case opUnlink:
		delete(dir, o.name)
	case opRmdir:
		delete(dir, o.name)
		delete(t.names, join(o.dir, o.name))
	case opRename:
		id, ok := dir[o.name]
		if !ok {
			return fmt.Errorf("rename: no %q", join(o.dir, o.name))
		}
		to := t.names[o.dir2]
		if to == nil {
			return nil // into a lost directory: never half applied, so not at all
		}
		if id == dirID {
			return fmt.Errorf("rename of directory %q: not modelled", join(o.dir, o.name))
		}
		delete(dir, o.name)
		to[o.nam2] = id
	case opWrite:
		b := t.data[o.id]
		if end := o.off + int64(len(o.data)); int64(len(b)) < end {
			b = append(b, make([]byte, end-int64(len(b)))...)
		}
		copy(b[o.off:], o.data)
		t.data[o.id] = b
	case opTruncate:
		b := t.data[o.id]
		if int64(len(b)) >= o.off {
			b = b[:o.off]
		} else {
			b = append(b, make([]byte, o.off-int64(len(b)))...)
		}
		t.data[o.id] = b
	}
	return nil
}

// readTree reads a directory tree from the real file system, giving
// each file an id (hard links share one).
func readTree(root string) (*tree, error) {
	t := newTree()
	byIno := map[uint64]int{}
	next := 0
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		dir, name := path.Split(rel)
		dir = strings.TrimSuffix(dir, "/")
		switch {
		case fi.IsDir():
			t.names[dir][name] = dirID
			t.names[rel] = map[string]int{}
		case fi.Mode().IsRegular():
			ino := inoOf(fi)
			id, ok := byIno[ino]
			if !ok {
				next++
				id = next
				byIno[ino] = id
				b, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				t.data[id] = b
			}
			t.names[dir][name] = id
		default:
			return fmt.Errorf("%s: not a file or a directory", p)
		}
		return nil
	})
	return t, err
}

// writeTree empties root and writes t into it: what the disk holds when
// the power comes back.
func writeTree(root string, t *tree) error {
	ents, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(root, e.Name())); err != nil {
			return err
		}
	}
	dirs := make([]string, 0, len(t.names))
	for d := range t.names {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs) // a parent before its children
	first := map[int]string{}
	for _, d := range dirs {
		if d != "" {
			if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
				return err
			}
		}
	}
	for _, d := range dirs {
		for name, id := range t.names[d] {
			if id == dirID {
				continue
			}
			p := filepath.Join(root, d, name)
			if f, ok := first[id]; ok {
				if err := os.Link(f, p); err != nil {
					return err
				}
				continue
			}
			if err := os.WriteFile(p, t.data[id], 0o600); err != nil {
				return err
			}
			first[id] = p
		}
	}
	return nil
}

// prefixLen picks how many of n pending changes a cut keeps: a random
// prefix one cut in three, none the others. With often (-s: nothing is
// fsynced, so keeping none only ever rolls back) two cuts in three keep one.
func prefixLen(r *rand.Rand, n int, often bool) int {
	keeps := 1
	if often {
		keeps = 2
	}
	if n == 0 || r.IntN(3) >= keeps {
		return 0
	}
	return r.IntN(n + 1)
}
