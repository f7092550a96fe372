//go:build unix

package lockfile

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The lock file beside an executable is never opened through a symlink,
// and one that another user owns is refused.
func TestLockFileIsNotFollowed(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "app")
	os.WriteFile(target, []byte("old binary"), 0o755)
	victim := filepath.Join(t.TempDir(), "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	lock := filepath.Join(dir, ".app.selfcompile.lock")
	if err := os.Symlink(victim, lock); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), TargetName(target), true, false, nil); err == nil || !strings.Contains(err.Error(), "symbolic link") && !strings.Contains(err.Error(), "too many levels") {
		t.Fatalf("a symlinked lock file was opened: %v", err)
	}
	if string(mustRead(t, victim)) != "precious" {
		t.Fatal("the file behind the symlink changed")
	}
	if os.Getuid() != 0 {
		return
	}
	os.Remove(lock)
	os.WriteFile(lock, nil, 0o666)
	os.Chown(lock, 65534, 65534)
	if _, err := Open(context.Background(), TargetName(target), true, false, nil); err == nil || !strings.Contains(err.Error(), "belongs to uid 65534") {
		t.Fatalf("a lock file of another user was used: %v", err)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
