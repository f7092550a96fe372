package modcache

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// TestDiscard: what a module cache holds of a module version (zip,
// go.mod, .info, .ziphash, lock, the extracted read-only tree) is all
// removed; another version of the module stays.
func TestDiscard(t *testing.T) {
	cache := t.TempDir()
	bad, other := module.Version{Path: "example.com/m", Version: "v1.0.0"}, module.Version{Path: "example.com/m", Version: "v1.0.1"}
	var keep []string
	for _, mv := range []module.Version{bad, other} {
		zip, dir, err := Paths(cache, mv)
		if err != nil {
			t.Fatal(err)
		}
		base := strings.TrimSuffix(zip, ".zip")
		os.MkdirAll(filepath.Dir(zip), 0o755)
		for _, ext := range downloadExts {
			os.WriteFile(base+ext, []byte("x"), 0o644)
		}
		os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
		os.WriteFile(filepath.Join(dir, "sub", "m.go"), []byte("package sub\n"), 0o444)
		os.Chmod(filepath.Join(dir, "sub"), 0o555) // as the go command leaves it
		os.Chmod(dir, 0o555)
		if mv == other {
			keep = append(keep, dir, base+".mod", base+".ziphash")
		}
	}
	Discard(cache, bad)
	entries, _ := filepath.Glob(filepath.Join(cache, "cache", "download", "example.com", "m", "@v", "v1.0.0*"))
	if zip, dir, _ := Paths(cache, bad); len(entries) > 0 || fsutil.Exists(dir) || fsutil.Exists(zip) {
		t.Errorf("left of %s: %q, tree there: %v", bad, entries, fsutil.Exists(dir))
	}
	for _, p := range keep {
		if !fsutil.Exists(p) {
			t.Errorf("%s of %s was removed", p, other)
		}
	}
	_, dir, _ := Paths(cache, other)
	os.Chmod(dir, 0o755)
	os.Chmod(filepath.Join(dir, "sub"), 0o755)
}
