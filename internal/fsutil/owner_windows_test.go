package fsutil

import (
	"os"
	"testing"
)

// TestIsPrivate: Windows trusts the cache directory's ACL: every file and
// directory is private, and files have no owner or group ID.
func TestIsPrivate(t *testing.T) {
	dir := t.TempDir()
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !IsPrivate(fi) || CheckPrivateDir(dir) != nil {
		t.Error("a temporary directory is not private")
	}
	if Owner(fi) != -1 || Group(fi) != -1 {
		t.Errorf("Owner %d, Group %d; want -1", Owner(fi), Group(fi))
	}
}
