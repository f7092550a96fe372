//go:build !windows

package fsutil

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestIsNoSpace: a write to a full disk is one (as /dev/full fails every
// write), wrapped or not; other errors are not.
func TestIsNoSpace(t *testing.T) {
	if IsNoSpace(nil) || IsNoSpace(fs.ErrPermission) || IsNoSpace(errors.New("no space left on device")) {
		t.Error("an error that is not ENOSPC is one")
	}
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full: %v", err)
	}
	defer f.Close()
	_, err = f.Write([]byte("x"))
	if !IsNoSpace(err) {
		t.Errorf("writing to /dev/full: IsNoSpace(%v) = false", err)
	}
	if !IsNoSpace(fmt.Errorf("copying: %w", err)) {
		t.Error("a wrapped ENOSPC is not one")
	}
}

// TestSameDisk: two paths of a temporary directory are on one file
// system, /proc is not; a missing path is on none.
func TestSameDisk(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o755)
	if !SameDisk(dir, sub) {
		t.Error("a directory and its subdirectory are on different disks")
	}
	if SameDisk(dir, filepath.Join(dir, "missing")) {
		t.Error("a missing path is on the same disk")
	}
	if fi, err := os.Stat("/proc/self"); err == nil && fi.IsDir() && SameDisk(dir, "/proc/self") {
		t.Error("/proc is on the same disk as a temporary directory")
	}
}
