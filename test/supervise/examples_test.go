package supervise

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// examples is examples/service, from this package's directory.
var examples = filepath.Join("..", "..", "examples", "service")

// toolVars returns every environment variable the tools read: the second
// argument of each cli.Flags definition in internal/tool and the
// packages below it.
func toolVars(t *testing.T) []string {
	t.Helper()
	tool := filepath.Join("..", "..", "internal", "tool")
	top, err := filepath.Glob(filepath.Join(tool, "*.go"))
	if err != nil || len(top) == 0 {
		t.Fatalf("no sources in internal/tool: %v", err)
	}
	below, err := filepath.Glob(filepath.Join(tool, "*", "*.go"))
	if err != nil || len(below) == 0 {
		t.Fatalf("no sources below internal/tool: %v", err)
	}
	files := append(top, below...)
	re := regexp.MustCompile(`"(MD(?:CLAIM|ROUTE|SWEEP|FAIL)_[A-Z_]+)"`)
	seen := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			seen[string(m[1])] = true
		}
	}
	var vars []string
	for v := range seen {
		vars = append(vars, v)
	}
	slices.Sort(vars)
	return vars
}

// TestExampleEnv checks that env/, the one for every supervisor, names
// every variable the pipeline reads (the tools', mdpipe-service's and the
// stop's grace), and nothing else: an empty file there unsets a variable
// the supervisor's environment might carry (MDCLAIM_RETRY would make the
// service claim the parked failures).
func TestExampleEnv(t *testing.T) {
	want := append(toolVars(t), "MAILDIR", "MDPIPE_GRACE", "PATH")
	slices.Sort(want)
	ents, err := os.ReadDir(filepath.Join(examples, "env"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, want) {
		t.Errorf("env holds %q, want %q", got, want)
	}
}

// TestExampleFiles checks that each service directory holds only what
// differs between supervisors, and that each starts mdpipe-service (the
// one pipeline, cmd/mdpipe-service).
func TestExampleFiles(t *testing.T) {
	scripts := map[string][]string{
		"daemontools": {"log/run", "run"},
		"runit":       {"finish", "log/run", "run"},
		"s6":          {"finish", "log/run", "run"},
	}
	for s, names := range scripts {
		var got []string
		filepath.WalkDir(filepath.Join(examples, s), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(filepath.Join(examples, s), p)
				got = append(got, rel)
			}
			return nil
		})
		slices.Sort(got)
		if !slices.Equal(got, names) {
			t.Errorf("%s holds %q, want only %q", s, got, names)
		}
		for _, n := range names {
			st, err := os.Stat(filepath.Join(examples, s, n))
			if err != nil {
				t.Errorf("%v", err)
				continue
			}
			if st.Mode()&0o111 != 0o111 {
				t.Errorf("%s/%s is not executable: %v", s, n, st.Mode())
			}
		}
		b, err := os.ReadFile(filepath.Join(examples, s, "run"))
		if err != nil || !bytes.HasSuffix(b, []byte(" mdpipe-service\n")) {
			t.Errorf("%s/run does not start mdpipe-service (%v)", s, err)
		}
	}
}
