package fsx

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The system calls of the hot path, each made once or more per message
// (claim and hand-off renames, the open, fstat, read and close of a
// message's header, the lstat before a hand-off), are made as raw system
// calls: without telling the Go scheduler that the goroutine enters the
// kernel. Told, the scheduler may hand the goroutine's processor to
// another thread, and its monitor wakes every 20 µs while calls are under
// way; measured on the bench, that cost a tool about one futex(2) or
// nanosleep(2) for each message on top of its own calls, half its
// context switches. These calls return in microseconds on a local file
// system; while one runs, other goroutines (the stop's timers, the
// background fsync) run on the tool's other processors, and on a machine
// of one CPU they wait for it (a call that hangs, on NFS, holds up the
// tool's stop either way, since the stop waits for the hand-off in hand
// to return). So are the directory fsyncs of DirSync's syncer (see
// fsyncRaw). Everything else (the other fsyncs, waits, writes to pipes)
// goes through the scheduler as usual.

// atFdcwd is unix.AT_FDCWD as a variable: as a constant, its conversion
// to uintptr does not compile.
var atFdcwd = unix.AT_FDCWD

func errnoErr(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// renameat2 is unix.Renameat2, raw.
func renameat2(olddir int, oldname string, newdir int, newname string, flags uint) error {
	o, err := unix.BytePtrFromString(oldname)
	if err != nil {
		return err
	}
	n, err := unix.BytePtrFromString(newname)
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall6(unix.SYS_RENAMEAT2, uintptr(olddir), uintptr(unsafe.Pointer(o)),
		uintptr(newdir), uintptr(unsafe.Pointer(n)), uintptr(flags), 0)
	return errnoErr(e)
}

// openat is unix.Openat, raw.
func openat(dirfd int, path string, flags int) (int, error) {
	p, err := unix.BytePtrFromString(path)
	if err != nil {
		return -1, err
	}
	fd, _, e := unix.RawSyscall6(unix.SYS_OPENAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(flags), 0, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

// fstat is unix.Fstat, raw.
func fstat(fd int, st *unix.Stat_t) error {
	_, _, e := unix.RawSyscall(unix.SYS_FSTAT, uintptr(fd), uintptr(unsafe.Pointer(st)), 0)
	return errnoErr(e)
}

// Lstat is unix.Lstat, raw.
func Lstat(path string, st *unix.Stat_t) error {
	return Fstatat(atFdcwd, path, st)
}

// Fstatat is unix.Fstatat with AT_SYMLINK_NOFOLLOW, raw: for the check
// before each hand-off.
func Fstatat(dirfd int, name string, st *unix.Stat_t) error {
	p, err := unix.BytePtrFromString(name)
	if err != nil {
		return err
	}
	_, _, e := unix.RawSyscall6(unix.SYS_NEWFSTATAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	return errnoErr(e)
}

// ReadFile reads from a regular file open as fd (OpenRegularAt), raw:
// never a pipe or a terminal, which could block for long.
func ReadFile(fd int, b []byte) (int, error) {
	var p unsafe.Pointer
	if len(b) > 0 {
		p = unsafe.Pointer(&b[0])
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), uintptr(p), uintptr(len(b)))
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// CloseFile closes a regular file open as fd (OpenRegularAt), raw.
func CloseFile(fd int) error {
	_, _, e := unix.RawSyscall(unix.SYS_CLOSE, uintptr(fd), 0, 0)
	return errnoErr(e)
}

// fsyncRaw is unix.Fsync, raw, for the background syncer (DirSync) on a
// tool of more than one processor. Its directory fsyncs, back to back
// through a backlog at a few hundred microseconds each, kept the
// monitor thread on its 20 µs wake-ups exactly as the hot path's calls
// did: on the bench with directory fsync, mdsweep made 4,400 nanosleep(2)
// and 760 futex(2) calls in a run of 20,000 messages, against 290 and
// 120 with the fsyncs raw, and a third of the context switches; the
// pipeline took 0.89 to 0.95 of the time, bounded or not, on 5 to 12%
// less CPU.
// The syncer holds its processor meanwhile, which the tool's other
// goroutines do not need (the hand-offs run on another), and a garbage
// collection's stop waits for the fsync in hand to return. With one
// processor the syncer would hold up the hand-offs instead: DirSync then
// fsyncs through the scheduler.
func fsyncRaw(fd int) error {
	for {
		_, _, e := unix.RawSyscall(unix.SYS_FSYNC, uintptr(fd), 0, 0)
		if e != unix.EINTR {
			return errnoErr(e)
		}
	}
}
