package testkit

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"testing"
)

// TestUser owns the intake and runs the pipeline in the root-only tests,
// as a site's list user would. SystemUser creates it when missing and
// leaves it in place; NewUser makes a user of its own for one test
// instead, and removes it when the test ends.
const TestUser = "mdpipe-test"

// Owner is a user's uid and gid.
type Owner struct {
	UID, GID int
}

// SystemUser returns the user name, creating it as a system user (own
// group, no home, no shell) if missing. Test packages run in parallel and
// may race to create it: it looks again after a failed useradd.
func SystemUser(name string) (Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		out, addErr := addSystemUser(name)
		if u, err = user.Lookup(name); err != nil {
			return Owner{}, fmt.Errorf("no user %s, and useradd failed: %v: %s", name, addErr, out)
		}
	}
	return ownerOf(u)
}

// NewUser creates a system user of a fresh name (and its group of the
// same name) for this test alone, and removes both when the test ends:
// no test depends on a user an earlier run or another test left, and
// none leaves one behind. Register it before anything that runs as the
// user, so that the removal comes after those have stopped.
func NewUser(t testing.TB) (string, Owner) {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "mdpt-" + hex.EncodeToString(b[:])
	if out, err := addSystemUser(name); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { removeUser(t, name) })
	own, err := LookupUser(name)
	if err != nil {
		t.Fatal(err)
	}
	return name, own
}

// NeedSystemUser returns the system user name that a Debian package's
// postinst would have made (Debian-exim, opensmtpd) and that a program
// of the package, run from its unpacked files, needs. When the machine
// has it, it is the machine's and stays. When not, the test creates it
// and removes it (and its group) when the test ends.
func NeedSystemUser(t testing.TB, name string) Owner {
	t.Helper()
	if own, err := LookupUser(name); err == nil {
		return own
	}
	if out, err := addSystemUser(name); err != nil {
		t.Fatalf("no user %s, and useradd failed: %v: %s", name, err, out)
	}
	t.Cleanup(func() { removeUser(t, name) })
	own, err := LookupUser(name)
	if err != nil {
		t.Fatal(err)
	}
	return own
}

func addSystemUser(name string) ([]byte, error) {
	return exec.Command("useradd", "--system", "--user-group", "--no-create-home",
		"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
}

// removeUser removes a user the test made, and its group, which userdel
// leaves where login.defs says USERGROUPS_ENAB no. A failure is the
// test's: it would leave the user behind.
func removeUser(t testing.TB, name string) {
	if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
		t.Errorf("userdel %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	if _, err := user.LookupGroup(name); err == nil {
		if out, err := exec.Command("groupdel", name).CombinedOutput(); err != nil {
			t.Errorf("groupdel %s: %v: %s", name, err, strings.TrimSpace(string(out)))
		}
	}
}

// LookupUser returns an existing user's uid and gid.
func LookupUser(name string) (Owner, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return Owner{}, err
	}
	return ownerOf(u)
}

func ownerOf(u *user.User) (Owner, error) {
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return Owner{}, fmt.Errorf("user %s: uid %q gid %q", u.Username, u.Uid, u.Gid)
	}
	return Owner{uid, gid}, nil
}
