package watch

import (
	"io"
	"unsafe"

	"golang.org/x/sys/unix"
)

// MaxEvent is the size of the largest inotify event: its header and a
// name of NAME_MAX bytes, NUL-terminated.
const MaxEvent = unix.SizeofInotifyEvent + unix.NAME_MAX + 1

// ReadEvents takes in the events queued on the non-blocking inotify
// descriptor fd, reading into buf (at least a few times MaxEvent), and
// calls each with every event's name, its NUL padding cut, or with
// overflow set where events were lost. It returns once the queue is
// empty: nil, or the error of a read that failed.
func ReadEvents(fd int, buf []byte, each func(name []byte, overflow bool)) error {
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return nil
		case err != nil:
			return err
		case n <= 0:
			return io.ErrUnexpectedEOF
		}
		for b := buf[:n]; len(b) >= unix.SizeofInotifyEvent; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&b[0]))
			end := unix.SizeofInotifyEvent + int(ev.Len)
			if end > len(b) {
				break
			}
			name := b[unix.SizeofInotifyEvent:end]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			each(name, ev.Mask&unix.IN_Q_OVERFLOW != 0)
			b = b[end:]
		}
		if n < len(buf)-MaxEvent {
			// The read took every event queued: another would only
			// say so, one system call more each time.
			return nil
		}
	}
}
