//go:build unix

package swap

import (
	"os"
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
