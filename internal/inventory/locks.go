package inventory

import (
	"bufio"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

type devIno struct {
	dev uint64
	ino uint64
}

// locksFile is the kernel's table of file locks; a variable for the tests.
var locksFile = "/proc/locks"

// heldLocks returns the files some process holds a flock(2) lock on, read
// from /proc/locks. Reading the table changes nothing, where trying the
// lock would: a hand-off that tried at the same moment would find the
// claim held, and skip it. A line such as
//
//	3: FLOCK  ADVISORY  WRITE 11066 fe:00:9985182 0 EOF
//
// names the file by MAJOR:MINOR (hex) of its device and its inode; a
// "->" line is a process waiting for a lock, not holding it.
func heldLocks() (map[devIno]bool, error) {
	f, err := os.Open(locksFile)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	held := make(map[devIno]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		id := strings.Split(fields[5], ":")
		if len(id) != 3 {
			continue
		}
		major, err1 := strconv.ParseUint(id[0], 16, 32)
		minor, err2 := strconv.ParseUint(id[1], 16, 32)
		ino, err3 := strconv.ParseUint(id[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		held[devIno{unix.Mkdev(uint32(major), uint32(minor)), ino}] = true
	}
	return held, sc.Err()
}
