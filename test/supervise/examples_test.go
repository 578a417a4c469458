package supervise

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// supervisors are the service directories under examples/service.
var supervisors = []string{"daemontools", "runit", "s6"}

// examples is examples/service, from this package's directory.
var examples = filepath.Join("..", "..", "examples", "service")

// toolVars returns every environment variable the tools read: the second
// argument of each cli.Flags definition in internal/tool.
func toolVars(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "internal", "tool", "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sources in internal/tool: %v", err)
	}
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

// TestExampleEnv checks that each service's env/ names every variable the
// pipeline reads (the tools' and the pipeline script's own), and nothing
// else: an empty file there unsets a variable the supervisor's
// environment might carry (MDCLAIM_RETRY would make the service claim
// the parked failures).
func TestExampleEnv(t *testing.T) {
	want := append(toolVars(t), "MAILDIR", "PATH")
	slices.Sort(want)
	for _, s := range supervisors {
		ents, err := os.ReadDir(filepath.Join(examples, s, "env"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s/env holds %q, want %q", s, got, want)
		}
	}
}

// TestExampleFiles checks that each service directory is complete and that
// the shared pipeline script and env/ values are the same in all three.
func TestExampleFiles(t *testing.T) {
	scripts := map[string][]string{
		"daemontools": {"run", "log/run", "pipeline"},
		"runit":       {"run", "log/run", "pipeline", "finish"},
		"s6":          {"run", "log/run", "pipeline", "finish"},
	}
	for s, names := range scripts {
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
	}
	same := []string{"pipeline"}
	ents, _ := os.ReadDir(filepath.Join(examples, "runit", "env"))
	for _, e := range ents {
		same = append(same, filepath.Join("env", e.Name()))
	}
	for _, n := range same {
		ref, err := os.ReadFile(filepath.Join(examples, "runit", n))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range supervisors {
			b, err := os.ReadFile(filepath.Join(examples, s, n))
			if err != nil || !bytes.Equal(b, ref) {
				t.Errorf("%s/%s differs from runit/%s (%v)", s, n, n, err)
			}
		}
	}
}
