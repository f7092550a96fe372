package gosrc

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/shazow/go-selfcompile/internal/gocmd"
)

func writeFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	for _, name := range names {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("// "+name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDecodeAll decodes values printed one after the other, in order; no
// output is none, and output cut short is an error.
func TestDecodeAll(t *testing.T) {
	type v struct{ A int }
	got, err := DecodeAll[v]([]byte("{\"A\":1}\n{\"A\":2}{\"A\":3}\n"))
	if err != nil || !slices.Equal(got, []v{{1}, {2}, {3}}) {
		t.Errorf("DecodeAll = %v, %v", got, err)
	}
	if got, err := DecodeAll[v](nil); err != nil || len(got) != 0 {
		t.Errorf("DecodeAll(nil) = %v, %v", got, err)
	}
	if _, err := DecodeAll[v]([]byte(`{"A":1}{"A":`)); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("output cut short: %v, want io.ErrUnexpectedEOF", err)
	}
	if _, err := DecodeAll[v]([]byte(`{"A":"x"}`)); err == nil {
		t.Error("a value of the wrong type decoded")
	}
}

// TestIsLicense knows licence and notice files by name, in any case and
// with a suffix, and nothing else.
func TestIsLicense(t *testing.T) {
	for _, name := range []string{"LICENSE", "license", "LICENSE.md", "License.txt", "LICENCE", "COPYING", "COPYING-GPL", "NOTICE", "UNLICENSE", "PATENTS", "COPYRIGHT_NOTICE", "LICENSE-APACHE"} {
		if !IsLicense(name) {
			t.Errorf("IsLicense(%q) = false", name)
		}
	}
	for _, name := range []string{"README.md", "LICENSES", "licensed.go", "MYLICENSE", "NOTICES", "go.mod", ""} {
		if IsLicense(name) {
			t.Errorf("IsLicense(%q) = true", name)
		}
	}
}

// TestReadModFile parses a go.mod; a missing one is fs.ErrNotExist and
// one that does not parse is an error.
func TestReadModFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "go.mod")
	os.WriteFile(p, []byte("module example.com/m\n\ngo 1.22\n\nrequire example.com/dep v1.2.0\n"), 0o644)
	f, err := ReadModFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if f.Module.Mod.Path != "example.com/m" || len(f.Require) != 1 || f.Require[0].Mod.Version != "v1.2.0" {
		t.Errorf("parsed %+v", f.Module.Mod)
	}
	if _, err := ReadModFile(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing go.mod: %v, want fs.ErrNotExist", err)
	}
	os.WriteFile(p, []byte("module\nrequire (\n"), 0o644)
	if _, err := ReadModFile(p); err == nil {
		t.Error("a go.mod that does not parse parsed")
	}
}

// hostPackages returns the packages of a module at dir (its main package
// and a subpackage), one of a dependency at dep, and one of the standard
// library, as go list reports them.
func hostPackages(dir, dep string) []Package {
	main := &ModuleInfo{Path: "example.com/m", Dir: dir, Main: true}
	return []Package{
		{ImportPath: "example.com/m", Name: "main", Dir: dir, Module: main,
			GoFiles: []string{"main.go"}, SFiles: []string{"asm_amd64.s"}, EmbedFiles: []string{"static/data.txt"},
			IgnoredGoFiles: []string{"main_windows.go", "main_test.go"}},
		{ImportPath: "example.com/m/sub", Name: "sub", Dir: filepath.Join(dir, "sub"), Module: main, GoFiles: []string{"sub.go"}},
		{ImportPath: "example.com/dep", Name: "dep", Dir: dep, Module: &ModuleInfo{Path: "example.com/dep", Version: "v1.0.0", Dir: dep}, GoFiles: []string{"dep.go"}},
		{ImportPath: "fmt", Name: "fmt", Dir: filepath.Join(runtime.GOROOT(), "src", "fmt"), Standard: true, GoFiles: []string{"print.go"}},
		{ImportPath: "example.com/nothing", Error: &struct{ Err string }{"no Go files"}},
	}
}

// TestFiles lists the files that build the packages, for every platform,
// without tests, and each module's go.mod, go.sum and licence, sorted;
// not the standard library's, nor other files of the module; only the
// modules named, when some are.
func TestFiles(t *testing.T) {
	dir, dep := t.TempDir(), t.TempDir()
	writeFiles(t, dir, "go.mod", "go.sum", "LICENSE", "README.md", ".env", "main.go", "main_test.go", "main_windows.go", "asm_amd64.s", "static/data.txt", "static/other.txt", "sub/sub.go", "sub/sub_test.go")
	writeFiles(t, dep, "go.mod", "COPYING", "dep.go")
	pkgs := hostPackages(dir, dep)
	got, err := Files(pkgs)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, f := range []string{"go.mod", "go.sum", "LICENSE", "main.go", "main_windows.go", "asm_amd64.s", "static/data.txt", "sub/sub.go"} {
		want = append(want, filepath.Join(dir, filepath.FromSlash(f)))
	}
	for _, f := range []string{"go.mod", "COPYING", "dep.go"} {
		want = append(want, filepath.Join(dep, f))
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Files =\n%q\nwant\n%q", got, want)
	}

	got, err = Files(pkgs, "example.com/dep")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dep, "COPYING"), filepath.Join(dep, "dep.go"), filepath.Join(dep, "go.mod")}; !slices.Equal(got, want) {
		t.Errorf("Files of example.com/dep = %q, want %q", got, want)
	}
}

// TestFilesSymlinks: a symlink to a file of the module is carried; one
// that leaves the module, for a source file or its go.mod, is ErrOutside;
// a listed file that is missing, or is a directory, is an error. A module
// whose directory is reached through a symlink is inside itself.
func TestFilesSymlinks(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	outside := filepath.Join(t.TempDir(), "secret.go")
	os.WriteFile(outside, []byte("package main\n"), 0o644)
	setup := func(t *testing.T) (string, []Package) {
		real := t.TempDir()
		writeFiles(t, real, "go.mod", "main.go", "real.go")
		link := filepath.Join(t.TempDir(), "linked")
		if err := os.Symlink(real, link); err != nil {
			t.Fatal(err)
		}
		m := &ModuleInfo{Path: "example.com/m", Dir: link, Main: true}
		return link, []Package{{ImportPath: "example.com/m", Dir: link, Module: m, GoFiles: []string{"main.go", "alias.go"}}}
	}

	dir, pkgs := setup(t)
	os.Symlink("real.go", filepath.Join(dir, "alias.go"))
	if got, err := Files(pkgs); err != nil || len(got) != 3 {
		t.Errorf("a symlink within the module: %q, %v", got, err)
	}

	dir, pkgs = setup(t)
	os.Symlink(outside, filepath.Join(dir, "alias.go"))
	if _, err := Files(pkgs); !errors.Is(err, ErrOutside) {
		t.Errorf("a source file that leaves the module: %v, want ErrOutside", err)
	}

	dir, pkgs = setup(t)
	os.Symlink("real.go", filepath.Join(dir, "alias.go"))
	os.Remove(filepath.Join(dir, "go.mod"))
	os.Symlink(outside, filepath.Join(dir, "go.mod"))
	if _, err := Files(pkgs); !errors.Is(err, ErrOutside) {
		t.Errorf("a go.mod that leaves the module: %v, want ErrOutside", err)
	}

	dir, pkgs = setup(t)
	if _, err := Files(pkgs); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a listed file that is missing: %v, want fs.ErrNotExist", err)
	}

	dir, pkgs = setup(t)
	os.Mkdir(filepath.Join(dir, "alias.go"), 0o755)
	if _, err := Files(pkgs); err == nil {
		t.Error("a listed file that is a directory passed")
	}
}

// TestList runs go list on a module of the test's own, offline, and
// returns its packages and their dependencies, with the module each
// belongs to; an import that cannot be found is reported with its error
// (go list -e), not as a failure.
func TestList(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"errors\"\n\nvar _ = errors.New\n\nfunc main() {}\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "broken"), 0o755)
	os.WriteFile(filepath.Join(dir, "broken", "b.go"), []byte("package broken\n\nimport \"example.com/missing\"\n"), 0o644)
	tmp := t.TempDir()
	env := []string{"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "GOTOOLCHAIN=local", "GO111MODULE=on",
		"GOCACHE=" + filepath.Join(tmp, "cache"), "GOMODCACHE=" + filepath.Join(tmp, "mod"), "GOENV=off"}
	pkgs, err := List(context.Background(), gocmd.Go{Bin: goBin, Dir: dir}, env, "-deps", "./...")
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]Package{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	m, ok := byPath["example.com/m"]
	realDir, _ := filepath.EvalSymlinks(dir)
	if !ok || m.Module == nil || !m.Module.Main || m.Error != nil || !slices.Equal(m.GoFiles, []string{"main.go"}) || (m.Dir != dir && m.Dir != realDir) {
		t.Errorf("example.com/m: %+v", m)
	}
	if e, ok := byPath["errors"]; !ok || !e.Standard || e.Module != nil {
		t.Errorf("errors: %+v", e)
	}
	if b, ok := byPath["example.com/missing"]; !ok || b.Error == nil || b.Module != nil {
		t.Errorf("the missing import was not reported with its error: %+v", b)
	}

	var e *gocmd.Error
	if _, err := List(context.Background(), gocmd.Go{Bin: goBin, Dir: dir}, env, "-badflag"); !errors.As(err, &e) {
		t.Errorf("go list with a bad flag: %v, want a *gocmd.Error", err)
	}
}
