package swap

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

const capNetBind = "cap_net_bind_service=ep"

// setcap gives a file a capability with setcap(8), as an administrator
// would.
func setcap(t *testing.T, file string) {
	t.Helper()
	if out, err := exec.Command("setcap", capNetBind, file).CombinedOutput(); err != nil {
		t.Skipf("setcap: %v %s", err, out)
	}
}

func getcap(t *testing.T, file string) []byte {
	t.Helper()
	val, err := getXattr(file, "security.capability")
	if err != nil {
		return nil
	}
	return val
}

// A swap, run by root, keeps the target's owner, its setuid and setgid
// bits, its file capabilities and its other extended attributes.
func TestSwapKeepsPrivileges(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file another owner and capabilities")
	}
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	if err := os.Chown(target, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	setcap(t, target)
	if err := unix.Setxattr(target, "user.origin", []byte("package manager"), 0); err != nil {
		t.Skipf("no user xattrs here: %v", err)
	}
	if err := os.Chmod(target, 0o755|fs.ModeSetuid|fs.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	caps := getcap(t, target)
	if len(caps) == 0 {
		t.Fatal("setcap left no capability")
	}
	staged := stagedBinary(t, target, "new binary")
	if err := CheckReplaceable(target); err != nil {
		t.Fatalf("root may replace it keeping everything: %v", err)
	}
	backup, err := Replace(OS(), target, staged)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(backup)
	fi, _ := os.Stat(target)
	st := fi.Sys().(*syscall.Stat_t)
	if readFile(t, target) != "new binary" {
		t.Fatal("not replaced")
	}
	if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != fs.ModeSetuid|fs.ModeSetgid || st.Uid != 65534 || st.Gid != 65534 {
		t.Errorf("new binary: mode %v, owner %d:%d; want setuid, setgid, 65534:65534", fi.Mode(), st.Uid, st.Gid)
	}
	if got := getcap(t, target); !bytes.Equal(got, caps) {
		t.Errorf("capabilities not kept: %x, want %x", got, caps)
	}
	if out, _ := exec.Command("getcap", target).CombinedOutput(); !strings.Contains(string(out), "cap_net_bind_service") {
		t.Errorf("getcap %s: %s", target, out)
	}
	if v, _ := getXattr(target, "user.origin"); string(v) != "package manager" {
		t.Errorf("user.origin = %q", v)
	}
}

// A user who cannot give the new binary the target's setuid bit or
// capabilities is refused before any work, with an error that names what
// would be lost; so is one who may not write the directory.
func TestRefusesLosingPrivileges(t *testing.T) {
	if os.Getenv(testutil.AsNobodyEnv) == "" {
		if os.Getuid() != 0 {
			t.Skip("needs root to make the fixtures, then runs as nobody")
		}
		dir := testutil.OpenDir(t, 0o777)
		setuid := filepath.Join(dir, "setuid-app")
		os.WriteFile(setuid, []byte("old"), 0o755)
		os.Chmod(setuid, 0o755|os.ModeSetuid)
		capped := filepath.Join(dir, "capped-app")
		os.WriteFile(capped, []byte("old"), 0o755)
		os.Chown(capped, 65534, 65534)
		setcap(t, capped)
		locked := filepath.Join(testutil.OpenDir(t, 0o755), "app") // a root-owned directory
		os.WriteFile(locked, []byte("old"), 0o755)
		sticky := filepath.Join(testutil.OpenDir(t, 0o777|os.ModeSticky), "app") // root's file in a directory like /tmp
		os.WriteFile(sticky, []byte("old"), 0o777)
		testutil.RunAsNobody(t, "SETUID_APP="+setuid, "CAPPED_APP="+capped, "LOCKED_APP="+locked, "STICKY_APP="+sticky)
		return
	}
	for _, c := range []struct{ env, says string }{
		{"SETUID_APP", "setuid"},
		{"CAPPED_APP", "security.capability"},
		{"LOCKED_APP", "permission denied"},
		{"STICKY_APP", "sticky directory"},
	} {
		target := os.Getenv(c.env)
		before := readFile(t, target)
		err := CheckReplaceable(target)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: err = %v, want an error saying %q", c.env, err, c.says)
		}
		if readFile(t, target) != before {
			t.Errorf("%s changed", target)
		}
		entries, _ := os.ReadDir(filepath.Dir(target))
		for _, e := range entries {
			if strings.Contains(e.Name(), "selfcompile-check") {
				t.Errorf("left behind: %s", e.Name())
			}
		}
	}
}

// TestDisarmBackupsCapabilities takes file capabilities from a backup, as
// it does the setuid bit, and leaves the target's.
func TestDisarmBackupsCapabilities(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file capabilities")
	}
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	setcap(t, target)
	backup := makeBackups(t, target, 1, 0o755)[0]
	setcap(t, backup)
	DisarmBackups(target, t.Logf)
	if caps := getcap(t, backup); len(caps) != 0 {
		t.Error("the backup kept its capabilities")
	}
	if caps := getcap(t, target); len(caps) == 0 {
		t.Error("the target lost its capabilities")
	}
	if !fsutil.Exists(backup) {
		t.Error("the disarmed backup was removed")
	}
}

// TestDisarmBackupsSymlink: a symlink named as a backup is not one, and
// DisarmBackups does not reach through it: the file it points to keeps
// its capabilities and setuid bit.
func TestDisarmBackupsSymlink(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to give a file capabilities")
	}
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	other := filepath.Join(t.TempDir(), "privileged")
	os.WriteFile(other, []byte("another program"), 0o755)
	setcap(t, other)
	os.Chmod(other, 0o755|fs.ModeSetuid)
	link := backupName(target)
	if err := os.Symlink(other, link); err != nil {
		t.Fatal(err)
	}
	DisarmBackups(target, t.Logf)
	if caps := getcap(t, other); len(caps) == 0 {
		t.Error("the file a symlink named as a backup points to lost its capabilities")
	}
	if fi, _ := os.Stat(other); fi.Mode()&fs.ModeSetuid == 0 {
		t.Error("the file a symlink named as a backup points to lost its setuid bit")
	}
}
