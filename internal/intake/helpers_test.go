package intake

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"mdpipe/internal/fsx"
	"mdpipe/internal/logline"
	"mdpipe/internal/testkit"
)

// newMaildir makes an intake maildir in a fresh temporary directory.
func newMaildir(t *testing.T) string {
	t.Helper()
	return testkit.Maildir(t, filepath.Join(t.TempDir(), "intake"), 0o700)
}

// put writes a file at md/rel holding its own name, so that a test can
// tell which message ended where.
func put(t *testing.T, md, rel string) string {
	t.Helper()
	p := filepath.Join(md, rel)
	if err := os.WriteFile(p, []byte("Subject: "+filepath.Base(rel)+"\n\nbody\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// putLink makes md/rel a symbolic link to target, and putDir makes it a
// directory: entries that are no message, in new/ or under a claim's name.
func putLink(t *testing.T, md, rel, target string) string {
	t.Helper()
	p := filepath.Join(md, rel)
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
	return p
}

func putDir(t *testing.T, md, rel string) string {
	t.Helper()
	p := filepath.Join(md, rel)
	if err := os.Mkdir(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

// ls lists a maildir subdirectory, sorted.
func ls(t *testing.T, md, sub string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(md, sub))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// testLog returns a Log that writes into a buffer.
func testLog() (*logline.Log, *bytes.Buffer) {
	var buf bytes.Buffer
	l := logline.New("mdclaim")
	l.SetOutput(&buf)
	return l, &buf
}

func logLines(buf *bytes.Buffer) []string {
	s := strings.TrimSuffix(buf.String(), "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// bothRenames runs f with renameat2 and again with the link+unlink
// fallback of file systems that refuse RENAME_NOREPLACE.
func bothRenames(t *testing.T, f func(t *testing.T)) {
	t.Run("renameat2", f)
	t.Run("link+unlink", func(t *testing.T) {
		fsx.ForceLinkFallback(true)
		t.Cleanup(func() { fsx.ForceLinkFallback(false) })
		f(t)
	})
}

// park parses path as mdfail does and parks the claim.
func park(path string) (string, error) {
	c, err := ParseClaim(path)
	if err != nil {
		return "", err
	}
	return c.Park("")
}

// giveBack parses path and gives the claim back.
func giveBack(path string) (bool, error) {
	c, err := ParseClaim(path)
	if err != nil {
		return false, err
	}
	return c.GiveBack()
}
