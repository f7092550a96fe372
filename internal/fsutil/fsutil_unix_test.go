//go:build unix

package fsutil_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

// TestRemoveAllReadOnlyAsUser: for a user whom permissions bind (root is
// not one: the test runs again as nobody), a tree of read-only
// directories, as the go command leaves a module cache, is one that
// os.RemoveAll cannot remove; RemoveAll does.
func TestRemoveAllReadOnlyAsUser(t *testing.T) {
	if testutil.RunAsNobody(t) {
		return
	}
	tree := filepath.Join(t.TempDir(), "example.com", "m@v1.0.0")
	sub := filepath.Join(tree, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(sub, "a.go"), []byte("package sub\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	os.Chmod(sub, 0o555)
	os.Chmod(tree, 0o555)
	t.Cleanup(func() { os.Chmod(tree, 0o755); os.Chmod(sub, 0o755) })
	if os.RemoveAll(tree) == nil {
		t.Skip("permissions do not bind this user: os.RemoveAll removed a read-only tree")
	}
	if err := fsutil.RemoveAll(tree); err != nil {
		t.Fatal(err)
	}
	if fsutil.Exists(tree) {
		t.Error("the read-only tree is still there")
	}
}
