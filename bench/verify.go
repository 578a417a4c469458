package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// verify checks that a run did the job: the intake's new/ and cur/ are
// empty, and each QUEUE/LIST/SUBQUEUE holds exactly the messages routed
// there. layout "new" counts the files of a maildir's new/ (mdpipe and
// the floor); "pck" counts the pickles in the directory (python3).
func verify(intake, queue, layout string, want map[string]int) error {
	for _, sub := range []string{"new", "cur"} {
		n, err := countDir(filepath.Join(intake, sub), "")
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%d messages left in the intake's %s/", n, sub)
		}
	}
	got := make(map[string]int)
	dirs, err := filepath.Glob(filepath.Join(queue, "*", "*"))
	if err != nil {
		return err
	}
	for _, d := range dirs {
		dest := filepath.Base(filepath.Dir(d)) + "/" + filepath.Base(d)
		var n int
		if layout == "pck" {
			n, err = countDir(d, ".pck")
		} else {
			n, err = countDir(filepath.Join(d, "new"), "")
		}
		if err != nil {
			return err
		}
		if n > 0 {
			got[dest] = n
		}
	}
	var bad []string
	for dest, n := range want {
		if got[dest] != n {
			bad = append(bad, fmt.Sprintf("%s: %d, want %d", dest, got[dest], n))
		}
	}
	for dest, n := range got {
		if _, ok := want[dest]; !ok {
			bad = append(bad, fmt.Sprintf("%s: %d, want none", dest, n))
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("wrong queue contents (%d dirs), e.g. %s", len(bad), bad[0])
	}
	return nil
}

// countDir counts the entries of dir whose names end in suffix.
func countDir(dir, suffix string) (int, error) {
	f, err := os.Open(dir)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	for {
		names, err := f.Readdirnames(4096)
		for _, name := range names {
			if strings.HasSuffix(name, suffix) {
				n++
			}
		}
		if errors.Is(err, io.EOF) || err == nil && len(names) == 0 {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}
