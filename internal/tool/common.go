// Package tool is the command line of each mdpipe tool: flags and
// environment in, a handler of the stage runtime (internal/stage), an
// exit status out. The mains under cmd/ only call these functions, which
// lets the tests run each tool exactly as a user types it (testscript)
// inside the test binary.
//
// mdclaim, mdroute and mdfail are here; mdsweep and mdq have a package
// each below, so that these three link none of their dependencies. Every
// package linked into a program runs its initialisation at each start:
// go-smtp's (with crypto/tls) and go-message's character sets cost about
// 8 ms of CPU, more than these tools need to start at all (about 6 ms).
package tool

import "golang.org/x/sys/unix"

// writable reports whether fd is open for writing to something that
// keeps what is written. A claim printed into nothing would wait in cur/
// for mdclaim -r. The Go runtime opens /dev/null in place of a closed
// standard descriptor, so a closed stdout looks like /dev/null.
func writable(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	if err != nil || fl&unix.O_ACCMODE == unix.O_RDONLY {
		return false
	}
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil {
		return false
	}
	devNull := st.Mode&unix.S_IFMT == unix.S_IFCHR && unix.Major(st.Rdev) == 1 && unix.Minor(st.Rdev) == 3
	return !devNull
}
