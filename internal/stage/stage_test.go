package stage

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"mdpipe/internal/cli"
	"mdpipe/internal/testkit"

	"github.com/google/go-cmp/cmp"
)

// A stage that ends before its input does gives the claims of the input
// still there back to new/, each once however many records name it, and
// leaves alone the claim its handler has in hand and what is no claim.
func TestEachGivesBackTheInputLeft(t *testing.T) {
	md := t.TempDir()
	for _, d := range []string{"new", "cur", "tmp"} {
		if err := os.Mkdir(filepath.Join(md, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(b string) string { return filepath.Join(md, "cur", b+":1,P") }
	for _, b := range []string{"1", "2", "3"} {
		testkit.WriteFile(t, claim(b), "Subject: "+b+"\n\nbody\n")
	}
	input := strings.Join([]string{
		claim("1"),
		claim("2") + "\tl\tpost\tl@x\t1/2",
		claim("2") + "\tm\tpost\tm@x\t2/2",
		claim("3"),
		filepath.Join(md, "cur", "4:1,X"),
	}, "\n") + "\n"
	s := &Stage{Log: cli.NewLog("stage-test"), Out: cli.NewWriterOutput(&strings.Builder{}), Stop: newStop(time.Hour, time.Hour)}
	s.Log.SetOutput(&strings.Builder{})
	var handled []string
	s.Each(cli.NewReaderInput(strings.NewReader(input)), Commits{}, func(line []byte) {
		handled = append(handled, string(line))
		s.Quit()
	})
	if d := cmp.Diff([]string{claim("1")}, handled); d != "" {
		t.Errorf("handled (-want +got):\n%s", d)
	}
	ls := func(dir string) []string {
		ents, err := os.ReadDir(filepath.Join(md, dir))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		sort.Strings(names)
		return names
	}
	if d := cmp.Diff([]string{"2", "3"}, ls("new")); d != "" {
		t.Errorf("new/ (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"1:1,P"}, ls("cur")); d != "" {
		t.Errorf("cur/ (-want +got):\n%s", d)
	}
	if s.returned != 2 {
		t.Errorf("returned %d, want 2", s.returned)
	}
}
