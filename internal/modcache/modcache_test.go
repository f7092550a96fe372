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

// TestCheckSums: a module cache tree passes when its go.mod files and
// .ziphash files match the go.sum lines of their versions (a version that
// go.sum does not name is not checked), and fails naming the version when
// one does not.
func TestCheckSums(t *testing.T) {
	mv := module.Version{Path: "example.com/Dep", Version: "v1.0.0"} // escaped as !dep
	gomod := []byte("module example.com/Dep\n")
	modSum, _ := ModSum(gomod)
	good := "h1:" + strings.Repeat("A", 43) + "="
	tree := func(ziphash string) string {
		dir := t.TempDir()
		zip, src, _ := Paths(dir, mv)
		base := strings.TrimSuffix(zip, ".zip")
		os.MkdirAll(filepath.Dir(base), 0o755)
		os.WriteFile(base+".mod", gomod, 0o644)
		os.WriteFile(base+".ziphash", []byte(ziphash+"\n"), 0o644)
		os.MkdirAll(src, 0o755)
		os.WriteFile(filepath.Join(src, "dep.go"), []byte("package dep\n"), 0o644)
		unnamed := filepath.Join(dir, "cache", "download", "example.com", "other", "@v", "v1.0.0.mod")
		os.MkdirAll(filepath.Dir(unnamed), 0o755)
		os.WriteFile(unnamed, []byte("module example.com/other\n"), 0o644)
		return dir
	}
	sums := ParseSums([]byte("example.com/Dep v1.0.0 " + good + "\nexample.com/Dep v1.0.0/go.mod " + modSum + "\n"))
	if err := CheckSums(tree(good), sums); err != nil {
		t.Errorf("a tree that matches go.sum: %v", err)
	}
	bad := "h1:" + strings.Repeat("B", 43) + "="
	if err := CheckSums(tree(bad), sums); err == nil || !strings.Contains(err.Error(), "example.com/Dep@v1.0.0: its .ziphash") || !strings.Contains(err.Error(), bad) {
		t.Errorf("a .ziphash that go.sum does not have: %v", err)
	}
	sums["example.com/Dep v1.0.0/go.mod"] = bad
	if err := CheckSums(tree(good), sums); err == nil || !strings.Contains(err.Error(), "example.com/Dep@v1.0.0: its go.mod hashes to "+modSum) {
		t.Errorf("a go.mod that go.sum does not have: %v", err)
	}
}
