// Package tool is the command line of each mdpipe tool: flags and
// environment in, a handler of the stage runtime (internal/stage), an
// exit status out. The mains under cmd/ only call these functions, which
// lets the tests run each tool exactly as a user types it (testscript)
// inside the test binary.
package tool

import (
	"errors"
	"fmt"
	"os"

	"mdpipe/internal/cli"
	"mdpipe/internal/stage"

	"golang.org/x/sys/unix"
)

// newStage starts the run of a stage after mdclaim, which drains at a
// stop for the grace ($MDPIPE_GRACE). A bad $MDPIPE_GRACE is a usage
// error: it says so, and ok is false.
func newStage(prog string) (s *stage.Stage, ok bool) {
	grace, err := stage.Grace()
	if err != nil {
		cli.NewLog(prog).Printf("%v", err)
		return nil, false
	}
	return stage.New(prog, grace), true
}

// usage says what is wrong (err, in words) and the usage line on stderr,
// and returns 100. For -h (cli.ErrHelp) it prints the usage line and the
// flags on stdout, for -V (cli.ErrVersion) the tool's name and version,
// and returns 0.
func usage(fs *cli.Flags, synopsis string, err error) int {
	if errors.Is(err, cli.ErrHelp) {
		fs.PrintUsage(os.Stdout, synopsis)
		return int(cli.OK)
	}
	if errors.Is(err, cli.ErrVersion) {
		fmt.Printf("%s %s\n", fs.Name(), cli.Version())
		return int(cli.OK)
	}
	cli.NewLog(fs.Name()).Printf("%v", err)
	fmt.Fprintf(os.Stderr, "usage: %s\n", synopsis)
	return int(cli.Perm)
}

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
