package reason

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReadRemove(t *testing.T) {
	cur := t.TempDir()
	if got, err := Read(cur, "1.a"); got != "" || err != nil {
		t.Fatalf("Read with no reason = %q, %v", got, err)
	}
	if err := Write(cur, "1.a", "command exited 100:\tno\nsuch user"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(cur, ".1.a.why"))
	if err != nil || string(b) != "command exited 100: no such user\n" {
		t.Fatalf("file holds %q, %v", b, err)
	}
	if err := Write(cur, "1.a", "no such list"); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(cur, "1.a"); got != "no such list" || err != nil {
		t.Fatalf("Read = %q, %v; want the newer reason", got, err)
	}
	if err := Remove(cur, "1.a"); err != nil {
		t.Fatal(err)
	}
	if err := Remove(cur, "1.a"); err != nil {
		t.Fatalf("Remove of no reason: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cur, ".1.a.why")); !os.IsNotExist(err) {
		t.Fatalf("reason still there: %v", err)
	}
}

func TestWriteRefusesSymlink(t *testing.T) {
	cur := t.TempDir()
	target := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(target, []byte("keep\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, Path(cur, "1.a")); err != nil {
		t.Fatal(err)
	}
	if err := Write(cur, "1.a", "x"); err == nil {
		t.Fatal("Write followed a symlink")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep\n" {
		t.Fatalf("symlink target changed: %q", b)
	}
}

func TestBaseOf(t *testing.T) {
	for name, want := range map[string]string{
		".1.a.why": "1.a", "1.a.why": "", ".why": "", "..why": "", ".1.a:1,X": "", ".x.why.tmp": "",
	} {
		got, ok := BaseOf(name)
		if got != want || ok != (want != "") {
			t.Errorf("BaseOf(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}
