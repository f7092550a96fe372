package generate

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/stub"
)

// TestIsBundle knows the bundles go-selfcompile writes, for this host or
// another (a host in a replaced module), and no other file.
func TestIsBundle(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{
		filepath.Join(dir, "cmd", "host", stub.BundleDir, stub.SharedBundle),
		filepath.Join(dir, "cmd", "host", stub.BundleDir, stub.ToolchainBundle("linux", "amd64")),
		filepath.Join(dir, "lib", "cmd", "other", stub.PluginsBundle),
	} {
		if !isBundle(p) {
			t.Errorf("isBundle(%s) = false", p)
		}
	}
	for _, p := range []string{
		filepath.Join(dir, "cmd", "host", stub.BundleDir, stub.ToolchainGoFile("linux", "amd64")),
		filepath.Join(dir, "testdata", "sample.bundle"),
		filepath.Join(dir, "cmd", "host", "main.go"),
	} {
		if isBundle(p) {
			t.Errorf("isBundle(%s) = true", p)
		}
	}
}

// TestSourceFile names a file relative to the root that holds the host
// and its replaced modules, slash-separated, executable where its mode
// says; a missing file is fs.ErrNotExist.
func TestSourceFile(t *testing.T) {
	root := t.TempDir()
	g := &gen{host: hostInfo{root: root}}
	script := filepath.Join(root, "host", "tools", "gen.sh")
	os.MkdirAll(filepath.Dir(script), 0o755)
	os.WriteFile(script, []byte("#!/bin/sh\n"), 0o755)
	f, err := g.sourceFile(script)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "host/tools/gen.sh" || f.Src != script || !f.Exec {
		t.Errorf("sourceFile = %+v", f)
	}
	if _, err := g.sourceFile(filepath.Join(root, "missing.go")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestRelativeReplaces: a go.mod that replaces a module by an absolute
// directory is carried as a copy that names it relative to the module, its
// other directives as they were, the host's own go.mod untouched; one
// without absolute replacements is carried as it is.
func TestRelativeReplaces(t *testing.T) {
	root := t.TempDir()
	modDir := filepath.Join(root, "host")
	os.MkdirAll(modDir, 0o755)
	gomod := filepath.Join(modDir, "go.mod")
	orig := "module example.com/host\n\ngo 1.22\n\nrequire example.com/lib v1.0.0\n\n" +
		"replace example.com/lib => " + filepath.Join(root, "lib") + "\n\n" +
		"replace example.com/x v1.0.0 => example.com/y v1.1.0\n\nreplace example.com/z => ../z\n"
	os.WriteFile(gomod, []byte(orig), 0o644)
	g := &gen{host: hostInfo{modDir: modDir, root: root}, tmp: t.TempDir()}
	files := []bundle.File{{Name: "host/go.mod", Src: gomod}, {Name: "host/main.go", Src: filepath.Join(modDir, "main.go")}}
	if err := g.relativeReplaces(files); err != nil {
		t.Fatal(err)
	}
	if files[0].Src == gomod || files[1].Src != filepath.Join(modDir, "main.go") {
		t.Fatalf("files now %+v: want only go.mod's source changed", files)
	}
	f, err := gosrc.ReadModFile(files[0].Src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range f.Replace {
		got[r.Old.Path] = strings.TrimSpace(r.New.Path + " " + r.New.Version)
	}
	want := map[string]string{"example.com/lib": "../lib", "example.com/x": "example.com/y v1.1.0", "example.com/z": "../z"}
	if len(got) != len(want) || got["example.com/lib"] != want["example.com/lib"] || got["example.com/x"] != want["example.com/x"] || got["example.com/z"] != want["example.com/z"] {
		t.Errorf("replacements %v, want %v", got, want)
	}
	if len(f.Require) != 1 || f.Module.Mod.Path != "example.com/host" {
		t.Errorf("the copy lost directives: %+v", f.Require)
	}
	if data, _ := os.ReadFile(gomod); string(data) != orig {
		t.Errorf("the host's go.mod changed:\n%s", data)
	}

	os.WriteFile(gomod, []byte("module example.com/host\n\nreplace example.com/z => ../z\n"), 0o644)
	files = []bundle.File{{Name: "host/go.mod", Src: gomod}}
	if err := g.relativeReplaces(files); err != nil || files[0].Src != gomod {
		t.Errorf("a go.mod without absolute replacements: %+v, %v", files, err)
	}
	os.Remove(gomod)
	if err := g.relativeReplaces(files); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing go.mod: %v, want fs.ErrNotExist", err)
	}
}

// TestLarge lists the files of 1 MB or more, with their size, and no
// other.
func TestLarge(t *testing.T) {
	dir := t.TempDir()
	big, small := filepath.Join(dir, "big.bin"), filepath.Join(dir, "small.go")
	os.WriteFile(big, make([]byte, 3<<20), 0o644)
	os.WriteFile(small, make([]byte, 1<<20-1), 0o644)
	got := large([]bundle.File{{Name: "host/big.bin", Src: big}, {Name: "host/small.go", Src: small}, {Name: "host/gone", Src: filepath.Join(dir, "gone")}})
	if len(got) != 1 || !strings.HasPrefix(got[0], "host/big.bin (3.1 MB)") {
		t.Errorf("large = %q", got)
	}
}

// TestTargetEnvs makes go list report for each target in turn.
func TestTargetEnvs(t *testing.T) {
	g := &gen{targets: []string{"linux/amd64", "windows/arm64"}}
	got := g.targetEnvs()
	want := [][]string{{"GOOS=linux", "GOARCH=amd64"}, {"GOOS=windows", "GOARCH=arm64"}}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("targetEnvs = %q, want %q", got, want)
	}
}
