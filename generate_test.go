package selfcompile_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
)

// TestGeneratorCarriesOnlyWhatBuilds: the host's source in the bundle is
// what the go command lists for its packages, go.mod, go.sum and the
// licence: not a binary left in the module by go build, nor an untracked
// .env, nor data files. A large file that the build does use (an embedded
// asset) is carried, and the generator names it.
func TestGeneratorCarriesOnlyWhatBuilds(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	host := filepath.Join(tempDir(t), "host")
	rel, _ := filepath.Rel(host, e2e.repo)
	writeFiles(t, host, map[string]string{
		"go.mod":         "module example.com/host\n\ngo 1.26\n\nrequire github.com/shazow/go-selfcompile v0.0.0\n\nreplace github.com/shazow/go-selfcompile => " + filepath.ToSlash(rel) + "\n\ntool github.com/shazow/go-selfcompile/cmd/go-selfcompile\n",
		"LICENSE":        "MIT\n",
		"main.go":        "package main\n\nimport (\n\t_ \"embed\"\n\n\t_ \"github.com/shazow/go-selfcompile\"\n\t_ \"example.com/host/registry\"\n)\n\n//go:embed asset.bin\nvar asset string\n\nfunc main() { println(len(asset)) }\n",
		"asset.bin":      strings.Repeat("a", 3<<20),
		"registry/r.go":  "package registry\n",
		".env":           "API_TOKEN=secret\n",
		"host":           strings.Repeat("\x7fELF", 1<<20), // what go build leaves
		"notes/todo.txt": "not Go\n",
		"main_test.go":   "package main\n",
	})
	env := []string{"GOFLAGS=-mod=mod", "GOPROXY=" + fileProxy(filepath.Join(e2e.modcache, "cache", "download")), "GOSUMDB=off"}
	if out, err := command(host, env, "go", "mod", "tidy"); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	out, err := command(host, env, "go", "tool", "go-selfcompile", "--level", "fastest")
	if err != nil {
		t.Fatalf("generating: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "host/asset.bin (3.1 MB)") || strings.Count(string(out), "large file in the source part") != 1 {
		t.Errorf("the generator does not name the large file it carries:\n%s", out)
	}
	f, err := os.Open(filepath.Join(host, "selfcompilebundle", "shared.bundle"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	br, err := bundle.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	dir := t.TempDir()
	if err := br.Restore(bundle.PartSource, dir, nil); err != nil {
		t.Fatal(err)
	}
	var names []string
	modDir := filepath.Join(dir, filepath.FromSlash(br.Manifest.ModuleDir))
	filepath.WalkDir(modDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			r, _ := filepath.Rel(modDir, p)
			names = append(names, filepath.ToSlash(r))
		}
		return nil
	})
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".bundle") {
			t.Errorf("the source part carries a bundle: %s", p)
		}
		return nil
	})
	want := []string{"LICENSE", "asset.bin", "go.mod", "go.sum", "main.go", "registry/r.go", "selfcompile_plugins.go", "selfcompilebundle/bundle.go", "selfcompilebundle/toolchain_linux_amd64.go", "selfcompilebundle/toolchain_other.go"}
	if !slices.Equal(names, want) {
		t.Errorf("the host's source in the bundle:\n%q\nwant\n%q", names, want)
	}
}

// TestGeneratorVersionSkew: a generator whose version is not the one of
// the library that the host requires refuses, in the first seconds, and
// says how to run the right one.
func TestGeneratorVersionSkew(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	host := filepath.Join(tempDir(t), "skew")
	writeFiles(t, host, map[string]string{
		"go.mod":  "module example.com/skew\n\ngo 1.26\n\nrequire github.com/shazow/go-selfcompile v0.9.0\n",
		"main.go": "package main\n\nfunc main() {}\n",
	})
	out, err := command(host, []string{"GOFLAGS=-mod=mod", "GOPROXY=off"}, e2e.gen)
	if err == nil || !strings.Contains(string(out), `requires "v0.9.0"`) || !strings.Contains(string(out), "go get -tool github.com/shazow/go-selfcompile/cmd/go-selfcompile@v0.9.0") {
		t.Fatalf("a generator of another version: %v\n%s", err, out)
	}
}
