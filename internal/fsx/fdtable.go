package fsx

import "golang.org/x/sys/unix"

// GrowFdTable makes the process's descriptor table hold n descriptors
// (fewer if RLIMIT_NOFILE allows fewer), so that opening up to n later
// never has to grow it. The kernel grows the table as descriptors are
// opened past its size, doubling it each time; in a process of several
// threads, as every Go program is, each growth waits for an RCU grace
// period first (expand_fdtable), in the thread that opened. Measured
// here: 7 to 16 ms at the 256th and at the 512th descriptor, in which the
// opening tool stands still. Grown once, to the size a tool will need,
// it waits for one grace period instead of one for each doubling; and a
// caller that grows it from a goroutine of its own goes on meanwhile: an
// open below the table's old size does not wait for a growth under way,
// only one past it does.
// The table never shrinks; its cost is 8 bytes a descriptor.
func GrowFdTable(n int) error {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return err
	}
	n = int(min(uint64(n), lim.Cur))
	if n < 1 {
		return nil
	}
	src, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(src)
	// The lowest free descriptor from n-1 up: never one in use, which
	// dup2(2) would close.
	fd, err := unix.FcntlInt(uintptr(src), unix.F_DUPFD_CLOEXEC, n-1)
	if err != nil {
		return err
	}
	return unix.Close(fd)
}
