package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// MTADeliveries returns the bytes of every real MTA delivery under the
// tree's testdata/mta (the files in a new/ there), the seed corpus of the
// fuzz targets that read a message or its envelope.
func MTADeliveries(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	root := filepath.Join(ModuleRoot(t), "testdata", "mta")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.Contains(path, "/new/") {
			return err
		}
		b, err := os.ReadFile(path)
		out = append(out, b)
		return err
	})
	if err != nil || len(out) == 0 {
		t.Fatalf("reading the MTA deliveries: %v (%d found)", err, len(out))
	}
	return out
}

// SeedAddresses returns envelope recipients to seed a fuzz target with:
// hostile ones (empty, dot names, path pieces, NUL, an over-long local
// part, mixed case), and those recipients gives for each of the real MTA
// deliveries (MTADeliveries). recipients is the caller's own reading of a
// message's envelope, so that this package needs none of mdpipe's.
func SeedAddresses(t testing.TB, recipients func(msg []byte) []string) []string {
	t.Helper()
	addrs := []string{"", "@", "a@", "@b", "<>", "<a@b>", "..@x", "../../etc@x", "a/b@x",
		".hidden@x", "a\x00b@x", "A-Request@X", "mylist-bounces+a=b@x", "x-owner-owner@y",
		strings.Repeat("a", 65) + "@x", "mailman-mylist@lists.example.test"}
	for _, m := range MTADeliveries(t) {
		addrs = append(addrs, recipients(m)...)
	}
	return addrs
}
