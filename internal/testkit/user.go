package testkit

import (
	"fmt"
	"os/exec"
	"os/user"
	"strconv"
)

// TestUser owns the intake and runs the pipeline in the root-only tests,
// as a site's list user would. It is a system user that the tests create
// when missing and leave in place for the next run.
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
		out, addErr := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if u, err = user.Lookup(name); err != nil {
			return Owner{}, fmt.Errorf("no user %s, and useradd failed: %v: %s", name, addErr, out)
		}
	}
	return ownerOf(u)
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
