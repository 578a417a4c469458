package route

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"mdpipe/internal/safename"
)

// Lists is the set of known lists (mdroute -l): a file with a name a line
// (# comments), or a directory with an entry per list, as Mailman 2.1's
// lists/ has. A directory is looked up live, so a list created while the
// pipeline runs is known at once; a file is read again when it changes,
// checked at most once a second.
type Lists struct {
	path string
	dir  bool

	mu      sync.Mutex
	names   map[string]bool
	mtime   time.Time
	size    int64
	checked time.Time
}

// LoadLists opens the known lists at path.
func LoadLists(path string) (*Lists, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	l := &Lists{path: path, dir: fi.IsDir()}
	if !l.dir {
		if err := l.load(fi); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// Has reports whether list (or list@domain) is known. A name outside the
// safe alphabet is never looked up, so a lookup cannot leave the directory.
func (l *Lists) Has(list, domain string) bool {
	if safename.Name(list) != nil {
		return false
	}
	if l.dir {
		for _, n := range []string{list, list + "@" + domain} {
			// The domain is not checked yet: "x/../.." must not
			// make a lookup outside the directory.
			if safename.List(n) != nil {
				continue
			}
			if _, err := os.Lstat(filepath.Join(l.path, n)); err == nil {
				return true
			}
		}
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now := time.Now(); now.Sub(l.checked) >= time.Second {
		l.checked = now
		if fi, err := os.Stat(l.path); err == nil && (!fi.ModTime().Equal(l.mtime) || fi.Size() != l.size) {
			l.load(fi) // on error keep the names we had
		}
	}
	return l.names[list] || l.names[list+"@"+domain]
}

func (l *Lists) load(fi os.FileInfo) error {
	f, err := os.Open(l.path)
	if err != nil {
		return err
	}
	defer f.Close()
	names := make(map[string]bool)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		if line = strings.ToLower(strings.TrimSpace(line)); line != "" {
			names[line] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %v", l.path, err)
	}
	l.names, l.mtime, l.size, l.checked = names, fi.ModTime(), fi.Size(), time.Now()
	return nil
}
