//go:build unix

package fsutil

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeInfo is a FileInfo with no system stat, as a file system other than
// the OS's gives.
type fakeInfo struct{ mode fs.FileMode }

func (f fakeInfo) Name() string       { return "fake" }
func (f fakeInfo) Size() int64        { return 0 }
func (f fakeInfo) Mode() fs.FileMode  { return f.mode }
func (f fakeInfo) ModTime() time.Time { return time.Time{} }
func (f fakeInfo) IsDir() bool        { return f.mode.IsDir() }
func (f fakeInfo) Sys() any           { return nil }

// nobody is a user ID other than the test's, for files that another user
// owns (chown needs root).
const nobody = 65534

func chownOrSkip(t *testing.T, p string, uid int) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root")
	}
	if err := os.Lchown(p, uid, -1); err != nil {
		t.Skipf("chown: %v", err)
	}
}

func stat(t *testing.T, p string) fs.FileInfo {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi
}

// TestOwnerGroup: a file this process made is its effective user's and
// group's (on a file system without setgid directories); a file info
// without a stat is -1.
func TestOwnerGroup(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, "x")
	fi := stat(t, p)
	if got := Owner(fi); got != os.Geteuid() {
		t.Errorf("Owner = %d, want %d", got, os.Geteuid())
	}
	if got := Group(fi); got != os.Getegid() {
		t.Errorf("Group = %d, want %d", got, os.Getegid())
	}
	if Owner(fakeInfo{}) != -1 || Group(fakeInfo{}) != -1 {
		t.Errorf("a file info without a stat: Owner %d, Group %d", Owner(fakeInfo{}), Group(fakeInfo{}))
	}
}

// TestIsPrivate: this user's file is private unless its group or others
// may write it; another user's file is not; nor is a file info without a
// stat.
func TestIsPrivate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	writeFile(t, p, "x")
	for _, c := range []struct {
		mode fs.FileMode
		want bool
	}{
		{0o600, true},
		{0o644, true},
		{0o755, true},
		{0o444, true},
		{0o664, false},
		{0o646, false},
		{0o777, false},
	} {
		if err := os.Chmod(p, c.mode); err != nil {
			t.Fatal(err)
		}
		if got := IsPrivate(stat(t, p)); got != c.want {
			t.Errorf("mode %v: IsPrivate = %v, want %v", c.mode, got, c.want)
		}
	}
	if IsPrivate(fakeInfo{mode: 0o600}) {
		t.Error("a file info without a stat is private")
	}
	os.Chmod(p, 0o600)
	chownOrSkip(t, p, nobody)
	if IsPrivate(stat(t, p)) {
		t.Error("another user's file is private")
	}
}

// TestCheckPrivateDir: a directory of this user's that no one else may
// write, in a parent no one else may write, passes; a missing one is
// fs.ErrNotExist; a file, a symlink to a directory, a directory others may
// write, and one in a parent others may write (without the sticky bit)
// are refused.
func TestCheckPrivateDir(t *testing.T) {
	parent := t.TempDir()
	os.Chmod(parent, 0o755)
	dir := filepath.Join(parent, "cache")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := CheckPrivateDir(dir); err != nil {
		t.Fatalf("a private directory: %v", err)
	}
	if err := CheckPrivateDir(filepath.Join(parent, "missing")); !os.IsNotExist(err) {
		t.Errorf("a missing directory: %v, want fs.ErrNotExist", err)
	}
	file := filepath.Join(parent, "file")
	writeFile(t, file, "x")
	if err := CheckPrivateDir(file); err == nil {
		t.Error("a regular file passed")
	}
	link := filepath.Join(parent, "link")
	if os.Symlink(dir, link) == nil {
		if err := CheckPrivateDir(link); err == nil {
			t.Error("a symlink to a private directory passed")
		}
	}

	os.Chmod(dir, 0o770)
	if err := CheckPrivateDir(dir); err == nil {
		t.Error("a directory its group may write passed")
	}
	os.Chmod(dir, 0o700)

	os.Chmod(parent, 0o777)
	if err := CheckPrivateDir(dir); err == nil {
		t.Error("a directory in a parent anyone may write passed")
	}
	os.Chmod(parent, 0o777|fs.ModeSticky)
	if err := CheckPrivateDir(dir); err != nil {
		t.Errorf("a directory in a sticky parent anyone may write, as /tmp: %v", err)
	}
	os.Chmod(parent, 0o755)
}

// TestCheckPrivateDirOwners: a directory another user owns is refused, and
// so is one in a parent that another user (not root) owns, who could
// rename it away.
func TestCheckPrivateDirOwners(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "cache")
	os.Mkdir(dir, 0o700)
	chownOrSkip(t, dir, nobody)
	if err := CheckPrivateDir(dir); err == nil {
		t.Error("another user's directory passed")
	}
	os.Lchown(dir, os.Geteuid(), -1)
	chownOrSkip(t, parent, nobody)
	if err := CheckPrivateDir(dir); err == nil {
		t.Error("a directory in another user's parent passed")
	}
	os.Lchown(parent, 0, -1) // root's: trusted
	if err := CheckPrivateDir(dir); err != nil {
		t.Errorf("a directory in root's parent: %v", err)
	}
}
