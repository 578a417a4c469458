package powerloss

import "testing"

// TestModelRules holds the simulated disk to its persistence model, one
// rule at a time, without FUSE or root: a harness whose disk kept more
// than the model says would miss losses.
func TestModelRules(t *testing.T) {
	base := func() *model {
		b := newTree()
		b.names[""]["a"] = dirID
		b.names["a"] = map[string]int{}
		b.names[""]["b"] = dirID
		b.names["b"] = map[string]int{}
		return newModel(b)
	}
	has := func(m *model, keep int, dir, name string) (bool, string) {
		t.Helper()
		tr, err := m.cut(keep)
		if err != nil {
			t.Fatal(err)
		}
		id, ok := tr.names[dir][name]
		return ok, string(tr.data[id])
	}

	m := base()
	id := m.newID()
	m.create("a", "x", id)
	m.write(id, 0, []byte("mail"))
	if ok, _ := has(m, 0, "a", "x"); ok {
		t.Error("a name survived without an fsync of its directory")
	}
	if ok, data := has(m, 1, "a", "x"); !ok || data != "" {
		t.Errorf("a prefix of one change: got %v %q, want the name, empty", ok, data)
	}
	m.fsyncDir("a")
	if ok, data := has(m, 0, "a", "x"); !ok || data != "" {
		t.Errorf("after the directory's fsync: got %v %q, want the name, empty: data needs the file's fsync", ok, data)
	}
	m.fsyncFile(id)
	if _, data := has(m, 0, "a", "x"); data != "mail" {
		t.Errorf("after both fsyncs: data %q", data)
	}

	m.rename("a", "x", "b", "x")
	m.fsyncDir("b")
	if ok, _ := has(m, 0, "b", "x"); ok {
		t.Error("a rename survived with only its target directory fsynced")
	}
	if ok, _ := has(m, 0, "a", "x"); !ok {
		t.Error("a rename was half applied")
	}
	m.fsyncDir("a")
	if ok, _ := has(m, 0, "b", "x"); !ok {
		t.Error("a rename with both directories fsynced did not survive")
	}

	m = base()
	m.mkdir("a", "sub")
	id = m.newID()
	m.create("a/sub", "y", id)
	m.fsyncDir("a/sub")
	if ok, _ := has(m, 0, "a/sub", "y"); ok {
		t.Error("a file survived in a directory whose own name did not")
	}
	m.fsyncDir("a")
	if ok, _ := has(m, 0, "a/sub", "y"); !ok {
		t.Error("a file fsynced in a durable directory did not survive")
	}
}
