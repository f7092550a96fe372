//go:build unix

package cachetree

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

// TestMergeReadOnlyAsUser: for a user whom permissions bind (the test runs
// again as nobody when run as root, who ignores them), a file merges into
// a module directory that the go command made read-only, over a file with
// other content too, and the directory is read-only again after.
func TestMergeReadOnlyAsUser(t *testing.T) {
	if testutil.RunAsNobody(t) {
		return
	}
	data, m := writeBundle(t, modulesPart)
	cache := t.TempDir()
	modDir := filepath.Join(cache, "example.com", "m@v1.0.0")
	sub := filepath.Join(modDir, "sub")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(modDir, "m.go"), []byte("package other\n"), 0o444)
	os.Chmod(sub, 0o555)
	os.Chmod(modDir, 0o555)
	t.Cleanup(func() { os.Chmod(modDir, 0o755); os.Chmod(sub, 0o755) })
	if os.WriteFile(filepath.Join(modDir, "probe"), nil, 0o644) == nil {
		t.Skip("permissions do not bind this user: it wrote into a read-only directory")
	}

	marker := Marker(cache, mustPart(t, m, bundle.PartModules))
	if err := Merge(openBundle(t, data), bundle.PartModules, cache, marker, nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.com/m@v1.0.0/m.go", "example.com/m@v1.0.0/sub/new.go"} {
		if got := readFile(t, filepath.Join(cache, filepath.FromSlash(name))); got != modulesPart.files[name] {
			t.Errorf("%s holds %q, want %q", name, got, modulesPart.files[name])
		}
	}
	for _, d := range []string{modDir, sub} {
		if fi, _ := os.Stat(d); fi.Mode().Perm() != 0o555 {
			t.Errorf("%s has mode %v after the merge, want 0555", d, fi.Mode().Perm())
		}
	}
	if !fsutil.Exists(marker) {
		t.Error("no marker")
	}
}
