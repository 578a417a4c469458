package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// floorMain is the floor: one process that does, per message, only the
// system calls no correct intake runner can avoid: read the directory
// (getdents, amortised over many names), rename to claim, open, read the
// header (one read), close, rename into the queue. It keeps directory
// descriptors so the kernel resolves one name, not a path, per call, and
// it neither sorts, logs, checks file types, nor fsyncs. It shares no code
// with mdpipe on purpose: it is the yardstick, not another implementation.
func floorMain(args []string) int {
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: mdbench floor intake queue")
		return 100
	}
	if err := floor(args[0], args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "mdbench floor: %v\n", err)
		return 111
	}
	return 0
}

func floor(intake, queue string) error {
	newFd, err := unix.Open(filepath.Join(intake, "new"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	curFd, err := unix.Open(filepath.Join(intake, "cur"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	queues := make(map[string]int) // LIST/SUBQUEUE -> descriptor of its new/
	dents := make([]byte, 64<<10)
	hdr := make([]byte, 8<<10)
	var names []string
	for {
		n, err := unix.Getdents(newFd, dents)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		_, _, names = unix.ParseDirent(dents[:n], -1, names[:0])
		for _, name := range names {
			claim := name + ":1,P"
			if err := unix.Renameat2(newFd, name, curFd, claim, unix.RENAME_NOREPLACE); err != nil {
				return fmt.Errorf("claim %s: %v", name, err)
			}
			fd, err := unix.Openat(curFd, claim, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			m, err := unix.Read(fd, hdr)
			unix.Close(fd)
			if err != nil {
				return err
			}
			dest, ok := floorRoute(hdr[:m])
			if !ok {
				return fmt.Errorf("%s: no recipient", name)
			}
			q, ok := queues[string(dest)]
			if !ok {
				dir := filepath.Join(queue, string(dest))
				if err := makeMaildir(dir); err != nil {
					return err
				}
				if q, err = unix.Open(filepath.Join(dir, "new"), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
					return err
				}
				queues[string(dest)] = q
			}
			if err := unix.Renameat2(curFd, claim, q, name, unix.RENAME_NOREPLACE); err != nil {
				return fmt.Errorf("hand off %s: %v", name, err)
			}
		}
	}
}

// subqueues maps a list address suffix to its canonical subqueue.
var subqueues = map[string]string{
	"bounces": "bounces", "admin": "bounces", "confirm": "confirm", "join": "join",
	"subscribe": "join", "leave": "leave", "unsubscribe": "leave", "owner": "owner", "request": "request",
}

// floorRoute returns LIST/SUBQUEUE from the topmost X-Original-To or
// Delivered-To field: the least routing any router must do.
func floorRoute(hdr []byte) ([]byte, bool) {
	for len(hdr) > 0 {
		line := hdr
		if i := bytes.IndexByte(hdr, '\n'); i >= 0 {
			line, hdr = hdr[:i], hdr[i+1:]
		} else {
			hdr = nil
		}
		if len(line) == 0 {
			break
		}
		var v []byte
		switch {
		case len(line) > 14 && bytes.EqualFold(line[:14], []byte("X-Original-To:")):
			v = line[14:]
		case len(line) > 13 && bytes.EqualFold(line[:13], []byte("Delivered-To:")):
			v = line[13:]
		default:
			continue
		}
		v = bytes.ToLower(bytes.TrimSpace(v))
		at := bytes.IndexByte(v, '@')
		if at < 0 {
			return nil, false
		}
		local := v[:at]
		if plus := bytes.IndexByte(local, '+'); plus >= 0 {
			local = local[:plus]
		}
		sub := "post"
		if dash := bytes.LastIndexByte(local, '-'); dash > 0 {
			if s, ok := subqueues[string(local[dash+1:])]; ok {
				local, sub = local[:dash], s
			}
		}
		return append(append(local, '/'), sub...), true
	}
	return nil, false
}
