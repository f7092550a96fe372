//go:build unix

package swap

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReplaceKeepsModeUnderUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	staged := stagedBinary(t, target, "new binary")
	backup, err := Replace(OS(), target, staged)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(backup)
	fi, err := os.Stat(target)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode = %v, want 0755", fi.Mode().Perm())
	}
	if readFile(t, target) != "new binary" {
		t.Error("target not replaced")
	}
}

// TestCheckBackupFile accepts a backup an install kept (a regular file of
// the executable's owner, writable by no more users than it) and refuses
// a symlink, a directory, and one more users may write; with the
// executable gone any backup will do, and a missing backup is
// fs.ErrNotExist.
func TestCheckBackupFile(t *testing.T) {
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	backup := makeBackups(t, target, 1, 0o755)[0]
	if err := CheckBackupFile(target, backup); err != nil {
		t.Errorf("a backup an install kept: %v", err)
	}
	os.Chmod(backup, 0o775)
	if err := CheckBackupFile(target, backup); err == nil {
		t.Error("a backup its group may write, of an executable it may not, passed")
	}
	os.Chmod(target, 0o775)
	if err := CheckBackupFile(target, backup); err != nil {
		t.Errorf("a backup writable by the group that may write the executable: %v", err)
	}
	os.Chmod(target, 0o755)
	os.Chmod(backup, 0o755)

	link := backupName(target)
	os.Symlink(backup, link)
	if err := CheckBackupFile(target, link); err == nil {
		t.Error("a symlink passed")
	}
	sub := backupName(target)
	os.Mkdir(sub, 0o755)
	if err := CheckBackupFile(target, sub); err == nil {
		t.Error("a directory passed")
	}
	if err := CheckBackupFile(target, filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing backup: %v, want fs.ErrNotExist", err)
	}
	if err := CheckBackupFile(filepath.Join(dir, "gone"), backup); err != nil {
		t.Errorf("a backup of an executable that is gone: %v", err)
	}
}

// TestCheckBackupFileOwner refuses a backup of another user than the
// executable's owner and this one (made as root).
func TestCheckBackupFileOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("giving a file another owner needs root")
	}
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	backup := makeBackups(t, target, 1, 0o755)[0]
	os.Chown(backup, 65534, 65534)
	if err := CheckBackupFile(target, backup); err == nil {
		t.Error("another user's backup passed")
	}
	os.Chown(target, 65534, 65534)
	if err := CheckBackupFile(target, backup); err != nil {
		t.Errorf("a backup of the executable's owner: %v", err)
	}
}
