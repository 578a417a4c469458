package postfixsite

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// HeaderLines returns the lines of a delivered message's header, up to
// the empty line, read without mdpipe's own code.
func HeaderLines(t testing.TB, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() && sc.Text() != "" {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return lines
}

// TestID returns the X-Test-Id a delivered message carries.
func TestID(t testing.TB, path string) string {
	t.Helper()
	for _, l := range HeaderLines(t, path) {
		if v, ok := strings.CutPrefix(l, "X-Test-Id: "); ok {
			return v
		}
	}
	t.Errorf("%s has no X-Test-Id", path)
	return ""
}

// QueueCopies returns what the list queue holds: for each copy, "ID ->
// LIST/SUBQUEUE" (ID its X-Test-Id) and how many times. A file anywhere
// but in a LIST/SUBQUEUE/new/ is an error. each, when not nil, sees every
// file too, with its path relative to queue.
func QueueCopies(t testing.TB, queue string, each func(path, rel string)) map[string]int {
	t.Helper()
	got := map[string]int{}
	err := filepath.WalkDir(queue, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(queue, path)
		if each != nil {
			each(path, rel)
		}
		parts := strings.Split(rel, string(filepath.Separator))
		if len(parts) != 4 || parts[2] != "new" {
			t.Errorf("queue holds %s, outside any LIST/SUBQUEUE/new/", rel)
			return nil
		}
		got[TestID(t, path)+" -> "+parts[0]+"/"+parts[1]]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
