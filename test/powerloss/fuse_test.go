package powerloss

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"
)

// The simulated disk is a FUSE file system in the test process: go-fuse's
// loopback over a backing directory, which records each change the tools
// make in its disk's model before it answers. The tools run unchanged,
// as separate processes, on a real kernel mount: their open, flock,
// rename(2) with RENAME_NOREPLACE, link, fsync all go through the kernel,
// and the harness sees the calls that change the disk, in the order the
// disk got them. Recording the calls with strace and replaying them (as
// ALICE does) would see the same, but would have to rebuild by hand what
// each call does to the tree; here the backing directory does that, and
// the model only keeps which changes are durable.

// event is a call the disk got, for the cut's trigger: a change, or an
// fsync (which changes nothing but what is durable).
type event struct {
	disk string // "intake" or "queue": which disk
	kind string // create mkdir link unlink rmdir rename write fsync-file fsync-dir
	dir  string // the directory it changed (a rename: its target; a write or fsync of a file: the file)
}

// power is the supply of every disk of a trial: cut, every disk stops at
// once, so that nothing written after the cut reaches any of them.
type power struct {
	mu      sync.Mutex
	off     bool
	trigger func(event) bool // under mu, after each call: cut now?
	cutAt   event            // the call the cut came after
	cutCh   chan struct{}    // closed at the cut
}

func newPower() *power { return &power{cutCh: make(chan struct{})} }

// cut turns the power off; mu held.
func (p *power) cut(e event) {
	if !p.off {
		p.off, p.cutAt = true, e
		close(p.cutCh)
	}
}

// disk is one file system: its backing directory, its mount point, and
// the model of what on it is durable.
type disk struct {
	name    string
	backing string
	mnt     string
	lie     bool // ignore fsyncs of directories (POWERLOSS_LIE)
	p       *power
	m       *model
	byIno   map[uint64]int // backing inode -> file id in the model
	server  *fuse.Server
}

// mount reads the backing directory as the disk's durable state and
// mounts it.
func (d *disk) mount() error {
	base, byIno, err := readTreeIno(d.backing)
	if err != nil {
		return err
	}
	d.m, d.byIno = newModel(base), byIno
	var st syscall.Stat_t
	if err := syscall.Stat(d.backing, &st); err != nil {
		return err
	}
	lr := &fs.LoopbackRoot{Path: d.backing, Dev: uint64(st.Dev)}
	// Every node of the tree is ours, made where the loopback makes its
	// own (NodeWrapChilder, the replacement, would wrap the loopback's
	// nodes in another layer).
	//lint:ignore SA1019 see above
	lr.NewNode = func(r *fs.LoopbackRoot, _ *fs.Inode, _ string, _ *syscall.Stat_t) fs.InodeEmbedder {
		return &node{LoopbackNode: fs.LoopbackNode{RootData: r}, d: d}
	}
	root := &node{LoopbackNode: fs.LoopbackNode{RootData: lr}, d: d}
	lr.RootNode = root
	d.server, err = fs.Mount(d.mnt, root, &fs.Options{MountOptions: fuse.MountOptions{
		DirectMount: true, FsName: "powerloss-" + d.name, Name: "powerloss", DisableXAttrs: true,
	}})
	return err
}

// unmount takes the disk away once its users are gone; one that a
// process still holds is detached.
func (d *disk) unmount() {
	if d.server == nil {
		return
	}
	if err := d.server.Unmount(); err != nil {
		unix.Unmount(d.mnt, unix.MNT_DETACH)
	}
	d.server.Wait()
	d.server = nil
}

// node is a file or directory of the disk.
type node struct {
	fs.LoopbackNode
	d *disk
}

func (n *node) rel() string { return n.Path(nil) }

func (n *node) backingPath(name string) string {
	return filepath.Join(n.d.backing, n.rel(), name)
}

// do runs a call that changes the disk: refused once the power is off,
// recorded in the model if it succeeded, and offered to the trigger.
func (n *node) do(kind, dir string, call func() syscall.Errno, record func()) syscall.Errno {
	p := n.d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return syscall.EIO
	}
	if errno := call(); errno != 0 {
		return errno
	}
	record()
	if p.trigger != nil && p.trigger(event{disk: n.d.name, kind: kind, dir: dir}) {
		p.cut(event{disk: n.d.name, kind: kind, dir: dir})
	}
	return 0
}

// idOf is the model's id of the file at the backing path; a file the
// model has not seen gets a new one.
func (d *disk) idOf(p string) int {
	var st syscall.Stat_t
	if err := syscall.Lstat(p, &st); err != nil {
		return 0
	}
	id, ok := d.byIno[st.Ino]
	if !ok {
		id = d.m.newID()
		d.byIno[st.Ino] = id
	}
	return id
}

func (n *node) dead() bool {
	n.d.p.mu.Lock()
	defer n.d.p.mu.Unlock()
	return n.d.p.off
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if n.dead() {
		return nil, syscall.EIO
	}
	return n.LoopbackNode.Lookup(ctx, name, out)
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (ch *fs.Inode, errno syscall.Errno) {
	dir := n.rel()
	errno = n.do("mkdir", dir, func() syscall.Errno {
		ch, errno = n.LoopbackNode.Mkdir(ctx, name, mode, out)
		return errno
	}, func() { n.d.m.mkdir(dir, name) })
	return ch, errno
}

func (n *node) Create(ctx context.Context, name string, flags, mode uint32, out *fuse.EntryOut) (ch *fs.Inode, fh fs.FileHandle, fflags uint32, errno syscall.Errno) {
	dir := n.rel()
	p := n.backingPath(name)
	existed := syscall.Access(p, 0) == nil
	var id int
	errno = n.do("create", dir, func() syscall.Errno {
		ch, fh, fflags, errno = n.LoopbackNode.Create(ctx, name, flags, mode, out)
		return errno
	}, func() {
		if existed {
			if id = n.d.idOf(p); flags&syscall.O_TRUNC != 0 {
				n.d.m.truncate(id, 0)
			}
			return
		}
		var st syscall.Stat_t
		syscall.Lstat(p, &st)
		id = n.d.m.newID()
		n.d.byIno[st.Ino] = id
		n.d.m.create(dir, name, id)
	})
	if errno != 0 {
		return nil, nil, 0, errno
	}
	return ch, &file{inner: fh.(fileOps), n: ch.Operations().(*node), id: id}, fflags, 0
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	p := n.d.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.off {
		return nil, 0, syscall.EIO
	}
	fh, fflags, errno := n.LoopbackNode.Open(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	id := n.d.idOf(n.backingPath(""))
	if flags&syscall.O_TRUNC != 0 {
		n.d.m.truncate(id, 0)
	}
	return &file{inner: fh.(fileOps), n: n, id: id}, fflags, 0
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (ch *fs.Inode, errno syscall.Errno) {
	dir := n.rel()
	errno = n.do("link", dir, func() syscall.Errno {
		ch, errno = n.LoopbackNode.Link(ctx, target, name, out)
		return errno
	}, func() { n.d.m.link(dir, name, n.d.idOf(n.backingPath(name))) })
	return ch, errno
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	dir := n.rel()
	return n.do("unlink", dir, func() syscall.Errno { return n.LoopbackNode.Unlink(ctx, name) },
		func() { n.d.m.unlink(dir, name, opUnlink) })
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	dir := n.rel()
	return n.do("rmdir", dir, func() syscall.Errno { return n.LoopbackNode.Rmdir(ctx, name) },
		func() { n.d.m.unlink(dir, name, opRmdir) })
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	if flags&unix.RENAME_EXCHANGE != 0 {
		return syscall.EINVAL // not modelled, and no tool uses it
	}
	dir := n.rel()
	to, ok := newParent.(*node)
	if !ok {
		return syscall.EXDEV
	}
	dir2 := to.rel()
	return n.do("rename", dir2, func() syscall.Errno {
		return n.LoopbackNode.Rename(ctx, name, newParent, newName, flags)
	}, func() { n.d.m.rename(dir, name, dir2, newName) })
}

func (n *node) Symlink(context.Context, string, string, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM // not modelled, and no tool makes one
}

func (n *node) Mknod(context.Context, string, uint32, uint32, *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

// CopyFileRange is refused, so that a copy comes as writes the model
// records (the kernel, or Go, falls back to read and write).
func (n *node) CopyFileRange(context.Context, fs.FileHandle, uint64, *fs.Inode, fs.FileHandle, uint64, uint64, uint64) (uint32, syscall.Errno) {
	return 0, syscall.EOPNOTSUPP
}

func (n *node) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if ff, ok := f.(*file); ok {
		return ff.Setattr(ctx, in, out)
	}
	size, hasSize := in.GetSize()
	if !hasSize {
		if n.dead() {
			return syscall.EIO
		}
		return n.LoopbackNode.Setattr(ctx, f, in, out)
	}
	return n.do("write", n.rel(), func() syscall.Errno { return n.LoopbackNode.Setattr(ctx, f, in, out) },
		func() { n.d.m.truncate(n.d.idOf(n.backingPath("")), int64(size)) })
}

// Fsync without a handle: a directory's, or a file's the kernel has no
// handle of.
func (n *node) Fsync(ctx context.Context, f fs.FileHandle, flags uint32) syscall.Errno {
	if n.IsDir() {
		return n.fsyncDir()
	}
	if ff, ok := f.(*file); ok {
		return ff.Fsync(ctx, flags)
	}
	return n.do("fsync-file", n.rel(), func() syscall.Errno { return 0 },
		func() { n.d.m.fsyncFile(n.d.idOf(n.backingPath(""))) })
}

func (n *node) fsyncDir() syscall.Errno {
	dir := n.rel()
	return n.do("fsync-dir", dir, func() syscall.Errno { return 0 }, func() {
		if !n.d.lie {
			n.d.m.fsyncDir(dir)
		}
	})
}

func (n *node) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if n.dead() {
		return nil, 0, syscall.EIO
	}
	h, fflags, errno := n.LoopbackNode.OpendirHandle(ctx, flags)
	if errno != 0 {
		return nil, 0, errno
	}
	return &dirHandle{dirOps: h.(dirOps), n: n}, fflags, 0
}

// dirOps is what the loopback's directory handle does.
type dirOps interface {
	fs.FileReaddirenter
	fs.FileReleasedirer
	fs.FileSeekdirer
	fs.FileFsyncdirer
}

// dirHandle is an open directory: its fsync goes to the model.
type dirHandle struct {
	dirOps
	n *node
}

func (h *dirHandle) Fsyncdir(ctx context.Context, flags uint32) syscall.Errno {
	return h.n.fsyncDir()
}

// fileOps is what the loopback's file handle does (no passthrough, no
// copy_file_range: every write comes to the model).
type fileOps interface {
	fs.FileReader
	fs.FileWriter
	fs.FileFlusher
	fs.FileReleaser
	fs.FileFsyncer
	fs.FileGetattrer
	fs.FileSetattrer
	fs.FileLseeker
}

// file is an open file of the disk: its writes and fsyncs go to the
// model.
type file struct {
	inner fileOps
	n     *node
	id    int
}

func (f *file) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if f.n.dead() {
		return nil, syscall.EIO
	}
	return f.inner.Read(ctx, dest, off)
}

func (f *file) Write(ctx context.Context, data []byte, off int64) (written uint32, errno syscall.Errno) {
	errno = f.n.do("write", f.n.rel(), func() syscall.Errno {
		written, errno = f.inner.Write(ctx, data, off)
		return errno
	}, func() { f.n.d.m.write(f.id, off, data[:written]) })
	return written, errno
}

func (f *file) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	return f.n.do("fsync-file", f.n.rel(), func() syscall.Errno { return 0 }, func() { f.n.d.m.fsyncFile(f.id) })
}

func (f *file) Flush(ctx context.Context) syscall.Errno   { return f.inner.Flush(ctx) }
func (f *file) Release(ctx context.Context) syscall.Errno { return f.inner.Release(ctx) }
func (f *file) Getattr(ctx context.Context, out *fuse.AttrOut) syscall.Errno {
	return f.inner.Getattr(ctx, out)
}
func (f *file) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	return f.inner.Lseek(ctx, off, whence)
}

func (f *file) Setattr(ctx context.Context, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	size, hasSize := in.GetSize()
	if !hasSize {
		return f.inner.Setattr(ctx, in, out)
	}
	return f.n.do("write", f.n.rel(), func() syscall.Errno { return f.inner.Setattr(ctx, in, out) },
		func() { f.n.d.m.truncate(f.id, int64(size)) })
}

// readTreeIno is readTree, with the backing inode of each file id.
func readTreeIno(root string) (*tree, map[uint64]int, error) {
	t, err := readTree(root)
	if err != nil {
		return nil, nil, err
	}
	byIno := map[uint64]int{}
	for d, names := range t.names {
		for name, id := range names {
			if id == dirID {
				continue
			}
			fi, err := os.Lstat(filepath.Join(root, d, name))
			if err != nil {
				return nil, nil, err
			}
			byIno[inoOf(fi)] = id
		}
	}
	return t, byIno, nil
}

func inoOf(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }
