package selfcompile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/modcache"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

// TestRefusedModuleIsFetchedAgain: a catalog module version that fails
// its check (a tampered zip with its go.mod, or a go.mod served apart
// from the files) is refused and removed whole from the module cache, so
// that the genuine version, fetched next as the go command fetches (it
// keeps what the cache holds), passes.
func TestRefusedModuleIsFetchedAgain(t *testing.T) {
	mv := module.Version{Path: "example.com/metrics", Version: "v1.0.0"}
	genuine := map[string]string{"go.mod": "module example.com/metrics\n\ngo 1.22\n", "metrics.go": "package metrics\n"}
	tampered := map[string]string{"go.mod": "module example.com/metrics\n\ngo 1.22\n\nrequire example.com/evil v1.0.0\n", "metrics.go": "package metrics\n\nimport _ \"example.com/evil\"\n"}
	dir := t.TempDir()
	sum := testutil.ModuleZip(t, filepath.Join(dir, "genuine.zip"), mv.Path, mv.Version, genuine)
	testutil.ModuleZip(t, filepath.Join(dir, "tampered.zip"), mv.Path, mv.Version, tampered)
	v := &vendor{cat: &catalog.Catalog{Plugins: []catalog.Plugin{{Name: "metrics", ImportPath: mv.Path, Module: mv.Path, Versions: []catalog.Version{{Version: mv.Version, Sum: sum}}}}}}
	for _, c := range []struct {
		name, zip, gomod, want string
	}{
		{"tampered zip and go.mod", "tampered.zip", tampered["go.mod"], "it is not the module the vendor listed"},
		{"go.mod apart from its files", "genuine.zip", tampered["go.mod"], "is not the one in its files"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cache := t.TempDir()
			putModule(t, cache, mv, filepath.Join(dir, c.zip), c.gomod)
			_, err := v.checkListed(cache, gosrc.Module{Path: mv.Path, Version: mv.Version}, "metrics")
			if !errors.Is(err, ErrNotAllowed) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "removed from the module cache") {
				t.Fatalf("the bad version: %v", err)
			}
			putModule(t, cache, mv, filepath.Join(dir, "genuine.zip"), genuine["go.mod"])
			if _, err := v.checkListed(cache, gosrc.Module{Path: mv.Path, Version: mv.Version}, "metrics"); err != nil {
				t.Fatalf("the genuine version, fetched after the bad one was refused: %v", err)
			}
		})
	}
}

// putModule puts a module version into a module cache as the go command
// downloads it: the files the cache lacks, keeping those it has.
func putModule(t *testing.T, cache string, mv module.Version, zip, gomod string) {
	t.Helper()
	zipPath, _, err := modcache.Paths(cache, mv)
	if err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(zipPath, ".zip")
	os.MkdirAll(filepath.Dir(base), 0o755)
	add := func(name string, data []byte) {
		if !fsutil.Exists(name) {
			if err := os.WriteFile(name, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	add(base+".mod", []byte(gomod))
	add(base+".info", []byte(`{"Version":"`+mv.Version+`"}`))
	if !fsutil.Exists(zipPath) {
		data, err := os.ReadFile(zip)
		if err != nil {
			t.Fatal(err)
		}
		add(zipPath, data)
		sum, _ := modcache.Sum(cache, mv)
		os.WriteFile(base+".ziphash", []byte(sum), 0o644)
	}
	add(base+".lock", nil)
}
