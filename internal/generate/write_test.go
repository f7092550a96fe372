package generate

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/stub"
)

// writeTestBundle writes a small bundle of kind to a file and returns its
// path and bytes.
func writeTestBundle(t *testing.T, dir, name, kind string) (string, []byte) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte(kind), 0o644)
	var b bytes.Buffer
	if err := bundle.Write(&b, &bundle.Manifest{Kind: kind}, []bundle.PartFiles{{Name: bundle.PartSource, Files: []bundle.File{{Name: "f", Src: src}}}}, bundle.LevelFastest); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b.Bytes()
}

// TestAppendBundle copies bundles one after the other into a side file and
// describes each so that a reader finds and checks it: its offset, size
// and the sha256 of its trailer. A file without a trailer is refused; a
// missing one is fs.ErrNotExist.
func TestAppendBundle(t *testing.T) {
	dir := t.TempDir()
	a, aData := writeTestBundle(t, dir, "a.bundle", bundle.Shared)
	b, bData := writeTestBundle(t, dir, "b.bundle", bundle.Toolchain)
	var side bytes.Buffer
	var sbs []bundle.SideBundle
	for _, p := range []string{a, b} {
		sb, err := appendBundle(&side, p, &bundle.Manifest{Kind: "k"}, int64(side.Len()))
		if err != nil {
			t.Fatal(err)
		}
		sbs = append(sbs, sb)
	}
	if !bytes.Equal(side.Bytes(), append(bytes.Clone(aData), bData...)) {
		t.Error("the side file is not the bundles one after the other")
	}
	for i, data := range [][]byte{aData, bData} {
		sb := sbs[i]
		got := side.Bytes()[sb.Offset : sb.Offset+sb.Size]
		if !bytes.Equal(got, data) || !bytes.Equal(sb.Trailer(), data[len(data)-int(bundle.TrailerLen):]) {
			t.Errorf("bundle %d: offset %d, size %d: not where it is, or not its trailer", i, sb.Offset, sb.Size)
		}
	}

	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("no trailer here"), 0o644)
	if _, err := appendBundle(&side, plain, nil, 0); err == nil {
		t.Error("a file without a trailer was appended as a bundle")
	}
	if _, err := appendBundle(&side, filepath.Join(dir, "missing"), nil, 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing bundle: %v, want fs.ErrNotExist", err)
	}
}

// TestInstallFile puts the whole source at the destination, over what was
// there, with mode 0644 and no temporary file left; a missing source
// leaves the destination as it was.
func TestInstallFile(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "src"), filepath.Join(dir, "dst")
	os.WriteFile(src, []byte("new bundle"), 0o600)
	os.WriteFile(dst, []byte("old bundle"), 0o600)
	if err := installFile(src, dst); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "new bundle" {
		t.Errorf("the destination holds %q", data)
	}
	if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o644 {
		t.Errorf("the destination has mode %v", fi.Mode().Perm())
	}
	if err := installFile(filepath.Join(dir, "missing"), dst); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a missing source: %v, want fs.ErrNotExist", err)
	}
	if data, _ := os.ReadFile(dst); string(data) != "new bundle" {
		t.Errorf("after a failed install the destination holds %q", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("the directory holds %d entries, want the source and the destination", len(entries))
	}
}

// TestInstall moves the bundles into the bundle package and writes the
// generated files; the files of targets no longer generated and what a
// killed run left are removed, and a file of the vendor's stays.
func TestInstall(t *testing.T) {
	mainDir, tmp := t.TempDir(), t.TempDir()
	g := &gen{host: hostInfo{mainDir: mainDir}, tmp: tmp}
	pkg := filepath.Join(mainDir, stub.BundleDir)
	os.MkdirAll(pkg, 0o755)
	stale := []string{stub.ToolchainBundle("plan9", "amd64"), stub.ToolchainGoFile("plan9", "amd64"), stub.SideFile("plan9", "amd64"), "." + stub.SharedBundle + ".tmp-123"}
	for _, name := range append(stale, "NOTES.txt") {
		os.WriteFile(filepath.Join(pkg, name), []byte("old"), 0o644)
	}
	_, shared := writeTestBundle(t, tmp, stub.SharedBundle, bundle.Shared)
	generated := map[string][]byte{
		filepath.Join(pkg, stub.BundleGoFile):    []byte("package selfcompilebundle\n"),
		filepath.Join(mainDir, stub.MainFile):    []byte("package main\n"),
		filepath.Join(pkg, stub.OtherTargetFile): []byte("package selfcompilebundle // other\n"),
	}
	if err := g.install([]writeJob{{name: stub.SharedBundle}}, generated); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(pkg, stub.SharedBundle)); !bytes.Equal(data, shared) {
		t.Error("the shared bundle was not installed")
	}
	for name, content := range generated {
		if data, _ := os.ReadFile(name); !bytes.Equal(data, content) {
			t.Errorf("%s holds %q", name, data)
		}
	}
	for _, name := range stale {
		if fsutil.Exists(filepath.Join(pkg, name)) {
			t.Errorf("%s is still there", name)
		}
	}
	if !fsutil.Exists(filepath.Join(pkg, "NOTES.txt")) {
		t.Error("a file of the vendor's was removed")
	}
}

// TestBundlePath: a beside program looks for its side file where the
// vendor said, slash-separated, else beside it under its main package's
// directory's name.
func TestBundlePath(t *testing.T) {
	g := &gen{host: hostInfo{mainDir: filepath.Join(t.TempDir(), "cmd", "tool")}}
	if got := g.bundlePath(); got != "tool.selfcompile" {
		t.Errorf("default bundlePath = %q", got)
	}
	g.opts.BundlePath = filepath.Join("share", "tool", "bundles.selfcompile")
	if got := g.bundlePath(); got != "share/tool/bundles.selfcompile" {
		t.Errorf("bundlePath = %q", got)
	}
}
