package pipewait

import (
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawWait is how long the start of a wait is a raw ppoll(2): made
// without telling the Go scheduler that the goroutine enters the kernel
// (as the hot path's calls are, fsx/raw.go). Under load, the tools wait
// thousands of times a second, each wait well under a millisecond. Told
// of each, the runtime's monitor thread saw a goroutine in a system call
// at its ten-millisecond check for goroutines that run too long, took
// its processor back, and so kept itself waking every 20 µs: on the
// bench, a third of a context switch per message in each tool, a tenth
// of the pipeline's time. A raw wait holds its processor instead; the
// rest of a longer wait (an idle tool) is an ordinary ppoll, so that an
// idle tool costs nothing. On a machine of one CPU, other goroutines
// (the stop's signal handling) wait for the raw part: at most rawWait.
const rawWait = time.Millisecond

// ppollRaw is unix.Ppoll, raw.
func ppollRaw(fds []unix.PollFd, ts *unix.Timespec, sigmask *unix.Sigset_t) (int, error) {
	var p unsafe.Pointer
	if len(fds) > 0 {
		p = unsafe.Pointer(&fds[0])
	}
	n, _, e := unix.RawSyscall6(unix.SYS_PPOLL, uintptr(p), uintptr(len(fds)),
		uintptr(unsafe.Pointer(ts)), uintptr(unsafe.Pointer(sigmask)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
