package handoff

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// A MaildirTree grows the descriptor table to treeFds once it has opened
// growFdsAt maildirs: not for a run that hands off to one, and once only.
func TestMaildirGrowsFdTable(t *testing.T) {
	calls := make(chan int, 8)
	defer func(f func(int) error) { growFdTable = f }(growFdTable)
	growFdTable = func(n int) error { calls <- n; return nil }

	dir := t.TempDir()
	mt, _ := listTree(t, dir)
	for i := range growFdsAt + 2 {
		list := fmt.Sprintf("list%d", i)
		if err := os.MkdirAll(filepath.Join(mt.Queue, list), 0o755); err != nil {
			t.Fatal(err)
		}
		c := claimIn(t, filepath.Join(dir, list), fmt.Sprintf("%d.M1P1.host", i), "Subject: x\n\nbody\n")
		if err := mt.HandOff(context.Background(), c, []Dest{{List: list, Subqueue: "post", Recipient: list + "@lists.example.test"}}); err != nil {
			t.Fatal(err)
		}
		if opened := i + 1; opened < growFdsAt && mt.grew {
			t.Fatalf("the table was grown after %d maildirs opened, before %d", opened, growFdsAt)
		}
	}
	if !mt.grew {
		t.Fatalf("the table was not grown after %d maildirs opened", growFdsAt+2)
	}
	if n := <-calls; n != treeFds {
		t.Errorf("grown to %d descriptors, want %d", n, treeFds)
	}
	if len(calls) > 0 {
		t.Errorf("grown %d times more", len(calls))
	}
	if err := mt.Close(); err != nil {
		t.Fatal(err)
	}
}
