//go:build !windows

package fsutil

import (
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
)

// TestDiskFree: a temporary directory's disk has room, a file's disk is
// its directory's, and a missing path is fs.ErrNotExist.
func TestDiskFree(t *testing.T) {
	dir := t.TempDir()
	free, err := DiskFree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if free == 0 {
		t.Error("no bytes free on the temporary directory's disk")
	}
	p := filepath.Join(dir, "f")
	writeFile(t, p, "x")
	if _, err := DiskFree(p); err != nil {
		t.Errorf("a file's disk: %v", err)
	}
	if _, err := DiskFree(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing path: %v, want fs.ErrNotExist", err)
	}
}
