package selfcompile

import (
	"os"
	"path/filepath"
	"testing"
)

// The target of an install is the file behind a symlink, so that the link
// stays a link.
func TestTargetThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "app")
	os.WriteFile(real, []byte("x"), 0o755)
	link := filepath.Join(dir, "link-to-app")
	if err := os.Symlink("app", link); err != nil {
		t.Skip("no symlinks:", err)
	}
	c := &SelfCompile{Target: link}
	if target, err := c.target(); err != nil || target != real {
		t.Fatalf("target = %s, %v; want %s", target, err, real)
	}
}
