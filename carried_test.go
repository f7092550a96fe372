package selfcompile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/cachetree"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/modcache"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

// carriedDep is the module version the bundles of these tests carry.
var carriedDep = module.Version{Path: "example.com/dep", Version: "v1.0.0"}

// carriedModules writes a module cache tree holding carriedDep as a
// bundle carries it (go.mod, .info, .ziphash, the extracted tree), with
// the .ziphash given, and returns its files and the go.sum lines of the
// genuine version.
func carriedModules(t *testing.T, ziphash func(genuine string) string) ([]bundle.File, string) {
	t.Helper()
	files := map[string]string{"go.mod": "module example.com/dep\n", "dep.go": "package dep\n"}
	sum := testutil.ModuleZip(t, filepath.Join(t.TempDir(), "dep.zip"), carriedDep.Path, carriedDep.Version, files)
	modSum, _ := modcache.ModSum([]byte(files["go.mod"]))
	dir := t.TempDir()
	zip, src, _ := modcache.Paths(dir, carriedDep)
	base := strings.TrimSuffix(zip, ".zip")
	for name, data := range map[string]string{
		base + ".mod": files["go.mod"], base + ".info": `{"Version":"v1.0.0"}`, base + ".ziphash": ziphash(sum),
		filepath.Join(src, "dep.go"): files["dep.go"],
	} {
		os.MkdirAll(filepath.Dir(name), 0o755)
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var out []bundle.File
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			f, err := modcache.Named(dir, p)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, f)
		}
		return nil
	})
	return out, carriedDep.Path + " " + carriedDep.Version + " " + sum + "\n" + carriedDep.Path + " " + carriedDep.Version + "/go.mod " + modSum + "\n"
}

// writeTestBundle writes a bundle of kind with parts and returns it as
// an executable carries it.
func writeTestBundle(t *testing.T, kind string, parts []bundle.PartFiles) *exe.Bundle {
	t.Helper()
	m := &bundle.Manifest{Kind: kind, MainModule: "example.com/host", MainPackage: "example.com/host"}
	var buf bytes.Buffer
	if err := bundle.Write(&buf, m, parts, bundle.LevelFastest); err != nil {
		t.Fatal(err)
	}
	return &exe.Bundle{SectionReader: io.NewSectionReader(bytes.NewReader(buf.Bytes()), 0, int64(buf.Len())), Manifest: m}
}

// testInstall is a resolution of no change, with its restored directories
// in a new temporary directory.
func testInstall(t *testing.T) *resolution {
	work := t.TempDir()
	src := filepath.Join(work, "src")
	r := &run{c: &SelfCompile{Logger: log.New(io.Discard, "", 0)}, workdir: filepath.Join(work, "work"), bin: &exe.File{}}
	l := &layout{run: r, meter: &buildMeter{},
		dirs: &restored{src: src, module: src, cachedSrc: filepath.Join(work, "cached"), modcache: filepath.Join(work, "mod")}}
	in := l.unresolved(nil)
	for _, d := range []string{in.workdir, in.dirs.module, in.dirs.cachedSrc} {
		os.MkdirAll(d, 0o755)
	}
	return in
}

// checkCarriedKeptOut checks that a bundle's modules whose .ziphash does
// not match its go.sum failed the install as a damaged bundle naming the
// module, and that nothing of them entered the module cache.
func checkCarriedKeptOut(t *testing.T, in *resolution, err error) {
	t.Helper()
	if !errors.Is(err, ErrBundleCorrupt) || !strings.Contains(err.Error(), carriedDep.String()+": its .ziphash") || !strings.Contains(err.Error(), "do not match the go.sum it records") {
		t.Errorf("a bundle whose modules do not match its go.sum: %v", err)
	}
	zip, dir, _ := modcache.Paths(in.dirs.modcache, carriedDep)
	if fsutil.Exists(strings.TrimSuffix(zip, ".zip")+".ziphash") || fsutil.Exists(dir) {
		t.Error("the module cache holds what the bundle carries")
	}
	if m, _ := filepath.Glob(filepath.Join(in.dirs.modcache, cachetree.MarkerPrefix+"*")); len(m) > 0 {
		t.Errorf("the module cache records the part as merged: %q", m)
	}
}

// TestPluginBundleModulesMatchItsGoSum: a plugins bundle whose modules do
// not match the go.sum it carries (after them) is refused before any of
// them enters the module cache, which installs of other programs share;
// one that matches is merged.
func TestPluginBundleModulesMatchItsGoSum(t *testing.T) {
	for _, damaged := range []bool{true, false} {
		in := testInstall(t)
		mods, sums := carriedModules(t, func(genuine string) string {
			if damaged {
				return "h1:" + strings.Repeat("B", 43) + "="
			}
			return genuine
		})
		sumsFile := filepath.Join(t.TempDir(), "go.sum")
		os.WriteFile(sumsFile, []byte(sums), 0o644)
		in.bin.Plugins = writeTestBundle(t, bundle.Plugins, []bundle.PartFiles{
			{Name: bundle.PartLocal},
			{Name: bundle.PartModules, Files: mods},
			{Name: bundle.PartSums, Files: []bundle.File{{Name: "go.sum", Src: sumsFile}}},
		})
		_, err := in.restorePluginBundle()
		if damaged {
			checkCarriedKeptOut(t, in, err)
		} else if zip, _, _ := modcache.Paths(in.dirs.modcache, carriedDep); err != nil || !fsutil.Exists(strings.TrimSuffix(zip, ".zip")+".ziphash") {
			t.Errorf("a plugins bundle that matches its go.sum: %v", err)
		}
	}
}

// TestSharedBundleModulesMatchItsGoSum: the same for the modules of the
// shared bundle, checked against the host's go.sum in its source.
func TestSharedBundleModulesMatchItsGoSum(t *testing.T) {
	in := testInstall(t)
	mods, sums := carriedModules(t, func(string) string { return "h1:" + strings.Repeat("B", 43) + "=" })
	os.WriteFile(filepath.Join(in.dirs.cachedSrc, "go.sum"), []byte(sums), 0o644)
	shared := writeTestBundle(t, bundle.Shared, []bundle.PartFiles{{Name: bundle.PartModules, Files: mods}})
	p, _ := shared.Manifest.Part(bundle.PartModules)
	job := restoreJob{bundle: shared, dest: map[string]string{bundle.PartModules: cachetree.Marker(in.dirs.modcache, p)}}
	checkCarriedKeptOut(t, in, job.run(context.Background(), in.layout, func(int64) {}))
}

// TestChecksumMismatchSaysWhatToDo: when the go command finds a module
// version's files not to match go.sum or the checksum database, what the
// module cache holds of it is removed, the markers of merged bundles are
// forgotten, and the error says so and what to do next.
func TestChecksumMismatchSaysWhatToDo(t *testing.T) {
	for _, out := range []string{
		"go: downloading example.com/dep v1.0.0\nverifying example.com/dep@v1.0.0: checksum mismatch\n\tdownloaded: h1:x=\n\tgo.sum:     h1:y=\n\nSECURITY ERROR\nThis download does NOT match an earlier download recorded in go.sum.\n",
		"go: example.com/dep@v1.0.0: verifying module: checksum mismatch\n\tdownloaded: h1:x=\n\tsum.golang.org: h1:y=\n\nSECURITY ERROR\n",
		"verifying example.com/dep@v1.0.0/go.mod: checksum mismatch\n\tdownloaded: h1:x=\n\tgo.sum:     h1:y=\n\nSECURITY ERROR\n",
	} {
		in := testInstall(t)
		zip, dir, _ := modcache.Paths(in.dirs.modcache, carriedDep)
		os.MkdirAll(filepath.Dir(zip), 0o755)
		os.MkdirAll(dir, 0o755)
		for _, ext := range []string{".mod", ".ziphash", ".info"} {
			os.WriteFile(strings.TrimSuffix(zip, ".zip")+ext, nil, 0o644)
		}
		marker := filepath.Join(in.dirs.modcache, cachetree.MarkerPrefix+"modules-0123")
		os.WriteFile(marker, nil, 0o600)
		err := in.goError(&gocmd.Error{Args: []string{"build"}, Output: out, Err: errors.New("exit status 1")})
		if !errors.Is(err, ErrBuild) || !strings.Contains(err.Error(), "the files of example.com/dep@v1.0.0 that the go command found") || !strings.Contains(err.Error(), "they were removed from the module cache: try again") {
			t.Errorf("%s: %v", out, err)
		}
		if left, _ := filepath.Glob(strings.TrimSuffix(zip, ".zip") + ".*"); len(left) > 0 || fsutil.Exists(dir) || fsutil.Exists(marker) {
			t.Errorf("%s: left %q, the tree (%v), the marker (%v)", out, left, fsutil.Exists(dir), fsutil.Exists(marker))
		}
	}
}
