//go:build !windows

package fsutil

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestSyncFile: a file, one that no one may write, and the running test
// executable (which Linux refuses to open for writing) sync; a missing
// file is fs.ErrNotExist.
func TestSyncFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	writeFile(t, p, "x")
	if err := SyncFile(p); err != nil {
		t.Errorf("a file: %v", err)
	}
	os.Chmod(p, 0o444)
	if err := SyncFile(p); err != nil {
		t.Errorf("a read-only file: %v", err)
	}
	if exe, err := os.Executable(); err == nil {
		if err := SyncFile(exe); err != nil {
			t.Errorf("the running executable: %v", err)
		}
	}
	if err := SyncFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestSyncDir: a directory syncs; a missing one is fs.ErrNotExist.
func TestSyncDir(t *testing.T) {
	dir := t.TempDir()
	if err := SyncDir(dir); err != nil {
		t.Errorf("a directory: %v", err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing directory: %v, want fs.ErrNotExist", err)
	}
}
