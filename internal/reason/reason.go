// Package reason keeps why a message was parked with the message itself,
// so that it survives the log's rotation and a restart: a dot-file
// beside the parked message, cur/.B.why for cur/B:1,X, holding one line.
//
// A dot-file because every maildir reader skips dot names: a list manager
// never sees it, and mdclaim's scans of new/ and cur/ pass it by. It costs
// a message nothing until it fails: mdfail writes it before the rename to
// X, and the same directory fsync makes both durable. A retry (mdclaim -x,
// mdq -R) removes it; mdq -D moves it with the message.
package reason

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"

	"mdpipe/internal/record"

	"golang.org/x/sys/unix"
)

const suffix = ".why"

// Name returns the file name of the reason of the message whose maildir
// unique name is base.
func Name(base string) string { return "." + base + suffix }

// Path returns where the reason of base lives in the directory cur.
func Path(cur, base string) string { return filepath.Join(cur, Name(base)) }

// BaseOf returns the unique name whose reason the file name is, and false
// for any other name.
func BaseOf(name string) (string, bool) {
	if len(name) <= len(suffix)+1 || name[0] != '.' || !strings.HasSuffix(name, suffix) {
		return "", false
	}
	return name[1 : len(name)-len(suffix)], true
}

// Write keeps why (cleaned to one line, as in a failed record) as the
// reason of base in cur, replacing an older one: a message parked again
// has a new reason. Its name is made durable by the fsync of cur that
// follows a batch of parks. Its few bytes get no fsync of their own: a
// wave of failures (a list gone) would cost one disk wait each and back
// the whole pipeline up behind mdfail, and a crash in the seconds after
// a park loses at most the text, shown as "-", never the message.
func Write(cur, base, why string) error {
	p := Path(cur, base)
	fd, err := unix.Open(p, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o640)
	if err != nil {
		return &os.PathError{Op: "open", Path: p, Err: err}
	}
	f := os.NewFile(uintptr(fd), p)
	_, err = f.WriteString(record.CleanReason(why) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlink(p)
	}
	return err
}

// Read returns the reason kept for base in cur, or "" when there is none.
func Read(cur, base string) (string, error) {
	p := Path(cur, base)
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err == unix.ENOENT {
		return "", nil
	}
	if err != nil {
		return "", &os.PathError{Op: "open", Path: p, Err: err}
	}
	defer unix.Close(fd)
	// A reason is one line of at most 1000 bytes (record.CleanReason);
	// more is not ours to show.
	buf := make([]byte, 1100)
	n, err := unix.Read(fd, buf)
	if err != nil {
		return "", &os.PathError{Op: "read", Path: p, Err: err}
	}
	line, _, _ := bytes.Cut(buf[:n], []byte{'\n'})
	return record.CleanReason(string(line)), nil
}

// Remove drops the reason kept for base in cur, if there is one.
func Remove(cur, base string) error {
	p := Path(cur, base)
	if err := unix.Unlink(p); err != nil && err != unix.ENOENT {
		return &os.PathError{Op: "unlink", Path: p, Err: err}
	}
	return nil
}
