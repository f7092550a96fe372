package modcache

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/testutil"
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

// writeFile writes content to the slash path name under dir.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// download returns the path, without extension, of a module version's
// files in the cache's download directory, its directory made.
func download(t *testing.T, cache string, mv module.Version) string {
	t.Helper()
	zip, _, err := Paths(cache, mv)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(zip), 0o755)
	return strings.TrimSuffix(zip, ".zip")
}

// TestDirUnescape: a module version's directory is named as the go
// command names it, upper case escaped, and Unescape reads it back; an
// invalid module path or escaped name is an error.
func TestDirUnescape(t *testing.T) {
	for _, mv := range []module.Version{
		{Path: "github.com/BurntSushi/toml", Version: "v1.2.0"},
		{Path: "example.com/m/v2", Version: "v2.0.0-RC1"},
		{Path: "example.com/m", Version: "v0.0.0-20240101000000-abcdefabcdef"},
	} {
		rel, err := Dir(mv)
		if err != nil {
			t.Fatalf("Dir(%v): %v", mv, err)
		}
		if rel != strings.ToLower(rel) || !strings.Contains(rel, "@") {
			t.Errorf("Dir(%v) = %q: upper case not escaped", mv, rel)
		}
		if got, err := Unescape(rel); err != nil || got != mv {
			t.Errorf("Unescape(%q) = %v, %v; want %v", rel, got, err, mv)
		}
	}
	if rel, _ := Dir(module.Version{Path: "github.com/BurntSushi/toml", Version: "v1.2.0"}); rel != "github.com/!burnt!sushi/toml@v1.2.0" {
		t.Errorf("Dir gives %q, not the go command's name", rel)
	}
	if _, err := Dir(module.Version{Path: "example.com/a b", Version: "v1.0.0"}); err == nil {
		t.Error("Dir of an invalid module path succeeded")
	}
	for _, rel := range []string{"github.com/BurntSushi/toml@v1.2.0", "example.com/m@v1.0.0-!!x", "example.com/a b@v1.0.0"} {
		if mv, err := Unescape(rel); err == nil {
			t.Errorf("Unescape(%q) = %v, want an error", rel, mv)
		}
	}
}

// TestMeta lists the download files that exist, by their names in the
// cache, among those asked for; a directory of such a name is not one.
func TestMeta(t *testing.T) {
	cache := t.TempDir()
	mv := module.Version{Path: "example.com/Dep", Version: "v1.0.0"}
	base := download(t, cache, mv)
	os.WriteFile(base+".mod", []byte("module example.com/Dep\n"), 0o644)
	os.WriteFile(base+".info", []byte(`{"Version":"v1.0.0"}`), 0o644)
	os.Mkdir(base+".ziphash", 0o755)
	files, err := Meta(cache, mv, ".mod", ".info", ".ziphash")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
		if data, err := os.ReadFile(f.Src); err != nil || len(data) == 0 || f.Src != filepath.Join(cache, filepath.FromSlash(f.Name)) {
			t.Errorf("%s: Src %s (%v)", f.Name, f.Src, err)
		}
	}
	if want := []string{"cache/download/example.com/!dep/@v/v1.0.0.mod", "cache/download/example.com/!dep/@v/v1.0.0.info"}; !slices.Equal(names, want) {
		t.Errorf("Meta lists %q, want %q", names, want)
	}
	if files, err := Meta(cache, module.Version{Path: "example.com/none", Version: "v1.0.0"}, ".mod"); err != nil || len(files) != 0 {
		t.Errorf("Meta of a version the cache lacks = %v, %v", files, err)
	}
	if _, err := Meta(cache, module.Version{Path: "example.com/a b", Version: "v1.0.0"}, ".mod"); err == nil {
		t.Error("Meta of an invalid module path succeeded")
	}
}

// TestTree lists a module's extracted source by its names in the cache,
// without tests, test data or anything but regular files, executables
// marked; a module the cache lacks lists nothing.
func TestTree(t *testing.T) {
	cache := t.TempDir()
	mv := module.Version{Path: "example.com/M", Version: "v1.0.0"}
	rel, _ := Dir(mv)
	root := filepath.Join(cache, filepath.FromSlash(rel))
	for name, content := range map[string]string{
		"go.mod":             "module example.com/M\n",
		"m.go":               "package m\n",
		"m_test.go":          "package m\n",
		"testdata/x.txt":     "x",
		"sub/testdata/y.txt": "y",
		"sub/s.go":           "package sub\n",
		"tool.sh":            "#!/bin/sh\n",
	} {
		writeFile(t, root, name, content)
	}
	os.Chmod(filepath.Join(root, "tool.sh"), 0o755)
	os.Symlink("m.go", filepath.Join(root, "link.go"))

	files, err := Tree(cache, mv)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bundle.File{}
	for _, f := range files {
		got[strings.TrimPrefix(f.Name, rel+"/")] = f
	}
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, []string{"go.mod", "m.go", "sub/s.go", "tool.sh"}) {
		t.Errorf("Tree lists %q", names)
	}
	for name, f := range got {
		if f.Name != rel+"/"+name || f.Src != filepath.Join(root, filepath.FromSlash(name)) {
			t.Errorf("%s: name %s, source %s", name, f.Name, f.Src)
		}
		if f.Exec != (name == "tool.sh") {
			t.Errorf("%s: Exec %v", name, f.Exec)
		}
	}
	if files, err := Tree(cache, module.Version{Path: "example.com/none", Version: "v1.0.0"}); err != nil || len(files) != 0 {
		t.Errorf("Tree of a module the cache lacks = %v, %v", files, err)
	}
	if _, err := Named(cache, filepath.Join(cache, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Named of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestTrim removes the extracted trees and zips of the versions not kept,
// read-only trees too, and returns the bytes freed; the kept versions'
// files and every version's go.mod, .info and .ziphash stay.
func TestTrim(t *testing.T) {
	cache := t.TempDir()
	keep := module.Version{Path: "example.com/Upper", Version: "v1.0.0"}
	drop := module.Version{Path: "example.com/Upper", Version: "v1.1.0"}
	nested := module.Version{Path: "example.com/Upper/v2", Version: "v2.0.0"}
	var stays, goes []string
	var freed int64
	for _, mv := range []module.Version{keep, drop, nested} {
		zip, dir, _ := Paths(cache, mv)
		base := download(t, cache, mv)
		meta := []string{base + ".mod", base + ".info", base + ".ziphash"}
		for _, p := range meta {
			os.WriteFile(p, []byte(mv.String()), 0o644)
		}
		os.WriteFile(zip, []byte("zip of "+mv.String()), 0o644)
		writeFile(t, dir, "m.go", "package m // "+mv.String()+"\n")
		writeFile(t, dir, "sub/s.go", "package sub\n")
		os.Chmod(filepath.Join(dir, "sub"), 0o555)
		os.Chmod(dir, 0o555)
		t.Cleanup(func() { os.Chmod(dir, 0o755); os.Chmod(filepath.Join(dir, "sub"), 0o755) })
		stays = append(stays, meta...)
		if mv == keep {
			stays = append(stays, zip, dir)
		} else {
			goes = append(goes, zip, dir)
			freed += fsutil.DirSize(dir)
			fi, _ := os.Stat(zip)
			freed += fi.Size()
		}
	}
	list := filepath.Join(filepath.Dir(download(t, cache, keep)), "list")
	os.WriteFile(list, []byte("v1.0.0\nv1.1.0\n"), 0o644)
	stays = append(stays, list)

	if got := Trim(cache, map[string]bool{keep.String(): true}); got != freed {
		t.Errorf("Trim freed %d bytes, want %d", got, freed)
	}
	for _, p := range stays {
		if !fsutil.Exists(p) {
			t.Errorf("%s was removed", p)
		}
	}
	for _, p := range goes {
		if fsutil.Exists(p) {
			t.Errorf("%s is still there", p)
		}
	}
	if got := Trim(cache, map[string]bool{keep.String(): true}); got != 0 {
		t.Errorf("trimming again freed %d bytes", got)
	}
}

// TestHas: a version is in the cache with its zip, or its tree, and not
// with its go.mod alone.
func TestHas(t *testing.T) {
	cache := t.TempDir()
	mv := module.Version{Path: "example.com/m", Version: "v1.0.0"}
	base := download(t, cache, mv)
	os.WriteFile(base+".mod", []byte("module example.com/m\n"), 0o644)
	if Has(cache, mv) {
		t.Error("a version with only its go.mod is in the cache")
	}
	os.WriteFile(base+".zip", nil, 0o644)
	if !Has(cache, mv) {
		t.Error("a version with its zip is not in the cache")
	}
	os.Remove(base + ".zip")
	_, dir, _ := Paths(cache, mv)
	os.MkdirAll(dir, 0o755)
	if !Has(cache, mv) {
		t.Error("a version with its tree is not in the cache")
	}
	if Has(cache, module.Version{Path: "example.com/a b", Version: "v1.0.0"}) {
		t.Error("an invalid module path is in the cache")
	}
}

var depFiles = map[string]string{
	"go.mod":   "module example.com/Dep\n\nrequire example.com/other v1.0.0\n",
	"go.sum":   "example.com/other v1.0.0 h1:AAAA=\nexample.com/other v1.0.0/go.mod h1:BBBB=\n",
	"dep.go":   "package dep\n",
	"sub/s.go": "package sub\n",
}

// TestSum: the h1: hash of a version is that of its zip, as go.sum has it;
// without a zip, the one its .ziphash records; without either, that of its
// tree, which for the zip's files is the zip's. A version the cache lacks
// is an error.
func TestSum(t *testing.T) {
	mv := module.Version{Path: "example.com/Dep", Version: "v1.0.0"}
	cache := t.TempDir()
	zip, dir, _ := Paths(cache, mv)
	zipSum := testutil.ModuleZip(t, zip, mv.Path, mv.Version, depFiles)
	if got, err := Sum(cache, mv); err != nil || got != zipSum {
		t.Errorf("Sum from the zip = %q, %v; want %q", got, err, zipSum)
	}
	os.Remove(zip)
	recorded := "h1:" + strings.Repeat("Z", 43) + "="
	os.WriteFile(strings.TrimSuffix(zip, ".zip")+".ziphash", []byte(recorded+"\n"), 0o644)
	if got, err := Sum(cache, mv); err != nil || got != recorded {
		t.Errorf("Sum from the .ziphash = %q, %v; want %q", got, err, recorded)
	}
	os.Remove(strings.TrimSuffix(zip, ".zip") + ".ziphash")
	for name, content := range depFiles {
		writeFile(t, dir, name, content)
	}
	if got, err := Sum(cache, mv); err != nil || got != zipSum {
		t.Errorf("Sum from the tree = %q, %v; want the zip's %q", got, err, zipSum)
	}
	if got, err := Sum(cache, module.Version{Path: "example.com/none", Version: "v1.0.0"}); err == nil {
		t.Errorf("Sum of a version the cache lacks = %q", got)
	}
}

// TestGoModGoSum: a version's own go.mod and go.sum are read from its zip,
// else from its tree; a version without a go.mod has the one the go
// command makes up, and one without a go.sum no lines.
func TestGoModGoSum(t *testing.T) {
	mv := module.Version{Path: "example.com/Dep", Version: "v1.0.0"}
	fromZip, fromTree := t.TempDir(), t.TempDir()
	zip, _, _ := Paths(fromZip, mv)
	testutil.ModuleZip(t, zip, mv.Path, mv.Version, depFiles)
	_, dir, _ := Paths(fromTree, mv)
	for name, content := range depFiles {
		writeFile(t, dir, name, content)
	}
	for _, cache := range []string{fromZip, fromTree} {
		if got, err := GoMod(cache, mv); err != nil || string(got) != depFiles["go.mod"] {
			t.Errorf("GoMod = %q, %v", got, err)
		}
		sums, err := GoSum(cache, mv)
		if err != nil || !maps.Equal(sums, ParseSums([]byte(depFiles["go.sum"]))) || len(sums) != 2 {
			t.Errorf("GoSum = %v, %v", sums, err)
		}
	}

	bare := module.Version{Path: "example.com/bare", Version: "v1.0.0"}
	cache := t.TempDir()
	zip, _, _ = Paths(cache, bare)
	testutil.ModuleZip(t, zip, bare.Path, bare.Version, map[string]string{"bare.go": "package bare\n"})
	if got, err := GoMod(cache, bare); err != nil || string(got) != "module example.com/bare\n" {
		t.Errorf("GoMod of a module without one = %q, %v", got, err)
	}
	if got, err := GoMod(t.TempDir(), bare); err != nil || string(got) != "module example.com/bare\n" {
		t.Errorf("GoMod of a module the cache lacks = %q, %v", got, err)
	}
	if sums, err := GoSum(cache, bare); err != nil || len(sums) != 0 {
		t.Errorf("GoSum of a module without one = %v, %v", sums, err)
	}
	if _, err := GoMod(cache, module.Version{Path: "example.com/a b", Version: "v1.0.0"}); err == nil {
		t.Error("GoMod of an invalid module path succeeded")
	}
}

// TestParseSums keeps the lines of three fields, by "path version".
func TestParseSums(t *testing.T) {
	got := ParseSums([]byte("a v1.0.0 h1:x=\r\na v1.0.0/go.mod h1:y=\n\nbroken line\nb v1 h1:z= extra\n"))
	want := map[string]string{"a v1.0.0": "h1:x=", "a v1.0.0/go.mod": "h1:y="}
	if !maps.Equal(got, want) {
		t.Errorf("ParseSums = %v, want %v", got, want)
	}
	if got := ParseSums(nil); len(got) != 0 {
		t.Errorf("ParseSums(nil) = %v", got)
	}
}

// TestModSum is the h1: hash of a go.mod as go.sum has it: the base64
// sha256 of the line "<hex sha256 of the file>  go.mod".
func TestModSum(t *testing.T) {
	data := []byte(depFiles["go.mod"])
	file := sha256.Sum256(data)
	summary := sha256.Sum256(fmt.Appendf(nil, "%x  go.mod\n", file))
	want := "h1:" + base64.StdEncoding.EncodeToString(summary[:])
	if got, err := ModSum(data); err != nil || got != want {
		t.Errorf("ModSum = %q, %v; want %q", got, err, want)
	}
}

// TestCheckGoMod: a version whose go.mod in the download directory is the
// one in its files passes; one whose differs, or which has none there, is
// refused, naming the version.
func TestCheckGoMod(t *testing.T) {
	mv := module.Version{Path: "example.com/Dep", Version: "v1.0.0"}
	cache := t.TempDir()
	zip, _, _ := Paths(cache, mv)
	testutil.ModuleZip(t, zip, mv.Path, mv.Version, depFiles)
	base := strings.TrimSuffix(zip, ".zip")
	if _, err := DownloadedGoMod(cache, mv); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("DownloadedGoMod without one: %v, want fs.ErrNotExist", err)
	}
	if err := CheckGoMod(cache, mv); err == nil || !strings.Contains(err.Error(), mv.String()) {
		t.Errorf("CheckGoMod without a downloaded go.mod: %v", err)
	}
	os.WriteFile(base+".mod", []byte(depFiles["go.mod"]), 0o644)
	if got, err := DownloadedGoMod(cache, mv); err != nil || string(got) != depFiles["go.mod"] {
		t.Errorf("DownloadedGoMod = %q, %v", got, err)
	}
	if err := CheckGoMod(cache, mv); err != nil {
		t.Errorf("CheckGoMod of matching go.mod files: %v", err)
	}
	os.WriteFile(base+".mod", []byte("module example.com/Dep\n"), 0o644)
	if err := CheckGoMod(cache, mv); err == nil || !strings.Contains(err.Error(), mv.String()) {
		t.Errorf("CheckGoMod of a go.mod served apart from the files: %v", err)
	}
}

// TestCheckSumsZip: a zip in the download directory is checked against its
// version's go.sum line; a cache without a download directory passes.
func TestCheckSumsZip(t *testing.T) {
	mv := module.Version{Path: "example.com/Dep", Version: "v1.0.0"}
	cache := t.TempDir()
	zip, _, _ := Paths(cache, mv)
	sum := testutil.ModuleZip(t, zip, mv.Path, mv.Version, depFiles)
	sums := map[string]string{mv.Path + " " + mv.Version: sum}
	if err := CheckSums(cache, sums); err != nil {
		t.Errorf("a zip that matches go.sum: %v", err)
	}
	other := maps.Clone(depFiles)
	other["dep.go"] = "package dep // changed\n"
	testutil.ModuleZip(t, zip, mv.Path, mv.Version, other)
	if err := CheckSums(cache, sums); err == nil || !strings.Contains(err.Error(), mv.String()+": its zip hashes to") {
		t.Errorf("a zip that go.sum does not have: %v", err)
	}
	os.WriteFile(zip, []byte("not a zip"), 0o644)
	if err := CheckSums(cache, sums); err == nil || !strings.Contains(err.Error(), mv.String()) {
		t.Errorf("a damaged zip: %v", err)
	}
	if err := CheckSums(t.TempDir(), sums); err != nil {
		t.Errorf("a cache without a download directory: %v", err)
	}
}
