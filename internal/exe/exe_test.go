package exe

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/known"
)

var (
	selfOnce sync.Once
	self     []byte
	selfErr  error
)

// goProgram writes a copy of the running test binary, a Go program that
// carries no bundle, to dir/name, followed by extra (bundles), and
// returns its path.
func goProgram(t *testing.T, dir, name string, extra ...[]byte) string {
	t.Helper()
	selfOnce.Do(func() {
		var exe string
		if exe, selfErr = os.Executable(); selfErr == nil {
			self, selfErr = os.ReadFile(exe)
		}
	})
	if selfErr != nil {
		t.Skipf("reading the test binary: %v", selfErr)
	}
	p := filepath.Join(dir, name)
	data := slices.Concat(append([][]byte{self}, extra...)...)
	if err := os.WriteFile(p, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// bundleOf returns the bytes of a bundle with manifest m and one part of
// one file.
func bundleOf(t *testing.T, m *bundle.Manifest) []byte {
	t.Helper()
	src := filepath.Join(t.TempDir(), "f")
	os.WriteFile(src, []byte(m.Kind+" file"), 0o644)
	var b bytes.Buffer
	parts := []bundle.PartFiles{{Name: bundle.PartSource, Files: []bundle.File{{Name: "f", Src: src}}}}
	if m.Kind == bundle.Beside {
		parts = nil
	}
	if err := bundle.Write(&b, m, parts, bundle.LevelFastest); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func sharedBundle(t *testing.T) []byte {
	return bundleOf(t, &bundle.Manifest{Kind: bundle.Shared, MainModule: "example.com/host",
		BuildList: []string{"example.com/host", "example.com/dep v1.2.0", "example.com/old v1.0.0 => example.com/new v1.1.0"}})
}

func toolchainBundle(t *testing.T) []byte {
	return bundleOf(t, &bundle.Manifest{Kind: bundle.Toolchain, GOOS: runtime.GOOS, GOARCH: runtime.GOARCH})
}

func pluginsBundle(t *testing.T, record string) []byte {
	return bundleOf(t, &bundle.Manifest{Kind: bundle.Plugins, Record: []byte(record),
		BuildList: []string{"example.com/host", "example.com/dep v1.3.0", "example.com/plugin v0.1.0"}})
}

func trailerOf(b []byte) []byte { return b[len(b)-int(bundle.TrailerLen):] }

func open(t *testing.T, path string) *File {
	t.Helper()
	x, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { x.Close() })
	return x
}

type plugin struct{ Path, Version string }

// TestOpen: a program that carries a shared, a toolchain and a plugins
// bundle is read whole: its build info, each bundle by kind with its
// manifest and exactly its bytes, the build lists and the plugin record.
func TestOpen(t *testing.T) {
	shared, toolchain := sharedBundle(t), toolchainBundle(t)
	plugins := pluginsBundle(t, `{"host":"v1.2.0","plugins":[{"Path":"example.com/plugin","Version":"v0.1.0"}]}`)
	x := open(t, goProgram(t, t.TempDir(), "prog", shared, toolchain, plugins))

	if x.Build == nil || x.Build.GoVersion != runtime.Version() {
		t.Errorf("build info %v, want that of this test binary", x.Build)
	}
	for _, c := range []struct {
		b    *Bundle
		kind string
		data []byte
	}{{x.Shared, bundle.Shared, shared}, {x.Toolchain, bundle.Toolchain, toolchain}, {x.Plugins, bundle.Plugins, plugins}} {
		if c.b == nil {
			t.Errorf("no %s bundle", c.kind)
			continue
		}
		if c.b.Manifest.Kind != c.kind {
			t.Errorf("the %s bundle's manifest is of kind %q", c.kind, c.b.Manifest.Kind)
		}
		if got, err := io.ReadAll(c.b.Reader()); err != nil || !bytes.Equal(got, c.data) {
			t.Errorf("the %s bundle reads %d bytes (%v), not the %d written", c.kind, len(got), err, len(c.data))
		}
		if !bytes.Equal(c.b.Trailer(), trailerOf(c.data)) {
			t.Errorf("the %s bundle's trailer is not the one written", c.kind)
		}
	}
	if x.Beside != nil || x.Side != nil || x.SidePath("") != "" {
		t.Errorf("a program that embeds its bundles has a beside bundle or side file")
	}
	if m := x.HostList["example.com/host"]; !m.Main {
		t.Errorf("the host list's main module: %+v", m)
	}
	if m := x.HostList["example.com/old"]; m.Version != "v1.0.0" || m.Replace == nil || m.Replace.Path != "example.com/new" {
		t.Errorf("the host list's replaced module: %+v", m)
	}
	if m := x.LastList["example.com/dep"]; m.Version != "v1.3.0" {
		t.Errorf("the last build list has dep at %q, want v1.3.0", m.Version)
	}
	r, err := ReadRecord[plugin](x)
	if err != nil || r.HostVersion != "v1.2.0" || !slices.Equal(r.Plugins, []plugin{{"example.com/plugin", "v0.1.0"}}) {
		t.Errorf("ReadRecord = %+v, %v", r, err)
	}
	if fi, _ := os.Stat(x.Path); !os.SameFile(fi, x.Info) {
		t.Error("Info is not the file's")
	}
	if err := x.StillThere(); err != nil {
		t.Errorf("StillThere of an unchanged file: %v", err)
	}
}

// TestOpenNoPlugins: before the first install there is no plugins bundle,
// no last build list and an empty record; without a toolchain bundle (a
// target the generator was not run for), none either.
func TestOpenNoPlugins(t *testing.T) {
	x := open(t, goProgram(t, t.TempDir(), "prog", sharedBundle(t)))
	if x.Shared == nil || x.Toolchain != nil || x.Plugins != nil || x.LastList != nil {
		t.Errorf("shared %v, toolchain %v, plugins %v, last list %v", x.Shared != nil, x.Toolchain != nil, x.Plugins != nil, x.LastList)
	}
	r, err := ReadRecord[plugin](x)
	if err != nil || r.HostVersion != "" || len(r.Plugins) != 0 {
		t.Errorf("ReadRecord before an install = %+v, %v", r, err)
	}
}

// TestHostTrailers: SameHost matches the trailers of the shared and
// toolchain bundles, whatever the plugins; another build's, or a
// toolchain where there is none, do not.
func TestHostTrailers(t *testing.T) {
	dir := t.TempDir()
	shared, toolchain := sharedBundle(t), toolchainBundle(t)
	x := open(t, goProgram(t, dir, "a", shared, toolchain))
	y := open(t, goProgram(t, dir, "b", shared, toolchain, pluginsBundle(t, `{"plugins":[]}`)))
	z := open(t, goProgram(t, dir, "c", shared))
	s, tc := x.HostTrailers()
	if !bytes.Equal(s, trailerOf(shared)) || !bytes.Equal(tc, trailerOf(toolchain)) {
		t.Fatal("HostTrailers are not the trailers of the bundles")
	}
	if !x.SameHost(s, tc) || !y.SameHost(s, tc) {
		t.Error("the same host, with or without plugins, is not SameHost")
	}
	if x.SameHost(s, nil) || z.SameHost(s, tc) {
		t.Error("a host with a toolchain bundle is SameHost as one without")
	}
	if zs, ztc := z.HostTrailers(); ztc != nil || !z.SameHost(zs, nil) {
		t.Error("a host without a toolchain bundle has a toolchain trailer, or is not itself")
	}
	otherShared := trailerOf(bundleOf(t, &bundle.Manifest{Kind: bundle.Shared, MainModule: "example.com/other"}))
	otherTC := trailerOf(bundleOf(t, &bundle.Manifest{Kind: bundle.Toolchain, GOOS: "plan9", GOARCH: runtime.GOARCH}))
	if x.SameHost(otherShared, tc) || x.SameHost(s, otherTC) {
		t.Error("a host is SameHost as another build's bundles")
	}
}

// TestOpenBeside: a program whose shared and toolchain bundles are in a
// file beside it embeds a beside bundle: their manifests are read from it,
// the side file is looked for beside the executable, and the host is
// named by the beside bundle's trailer alone.
func TestOpenBeside(t *testing.T) {
	dir := t.TempDir()
	side := sideFixture(t, dir).Side
	beside := bundleOf(t, &bundle.Manifest{Kind: bundle.Beside, Side: side})
	x := open(t, goProgram(t, dir, "prog", beside))
	if x.Beside == nil || x.Side == nil || x.Shared == nil || x.Toolchain == nil {
		t.Fatalf("beside %v, side %v, shared %v, toolchain %v", x.Beside != nil, x.Side != nil, x.Shared != nil, x.Toolchain != nil)
	}
	if x.Shared.Manifest.Kind != bundle.Shared || x.Toolchain.Manifest.Kind != bundle.Toolchain {
		t.Errorf("manifests of kinds %q and %q", x.Shared.Manifest.Kind, x.Toolchain.Manifest.Kind)
	}
	if got, want := x.SidePath(""), filepath.Join(dir, "prog.selfcompile"); got != want {
		t.Errorf("SidePath = %s, want %s", got, want)
	}
	if s, tc := x.HostTrailers(); !bytes.Equal(s, trailerOf(beside)) || tc != nil || !x.SameHost(s, nil) {
		t.Error("a beside program's host is not named by its beside bundle's trailer")
	}
	if !bytes.Equal(x.Toolchain.Trailer(), side.Bundles[1].Trailer()) {
		t.Error("the toolchain bundle's trailer is not the one the beside bundle names")
	}
	if err := x.OpenSide(context.Background(), SideOptions{}); err != nil {
		t.Fatalf("OpenSide: %v", err)
	}
	if got, err := io.ReadAll(x.Shared.Reader()); err != nil || !bytes.Equal(trailerOf(got), side.Bundles[0].Trailer()) {
		t.Errorf("the shared bundle, read from the side file: %v", err)
	}
}

// TestOpenNoBundle: a file that is not a Go program, and a Go program that
// carries no shared bundle (none at all, or only a toolchain bundle), are
// ErrNoBundle; a missing file is fs.ErrNotExist and a directory is
// refused, neither of them ErrNoBundle.
func TestOpenNoBundle(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "script")
	os.WriteFile(text, []byte("#!/bin/sh\necho hi\n"), 0o755)
	for name, p := range map[string]string{
		"not a Go program":         text,
		"no bundle":                goProgram(t, dir, "plain"),
		"only a toolchain bundle":  goProgram(t, dir, "toolchain", toolchainBundle(t)),
		"only a plugins bundle":    goProgram(t, dir, "plugins", pluginsBundle(t, `{"plugins":[]}`)),
		"an empty file":            goEmpty(t, dir),
		"a Go program's first 1KB": goPrefix(t, dir, 1024),
	} {
		if _, err := Open(p); !errors.Is(err, ErrNoBundle) {
			t.Errorf("%s: %v, want ErrNoBundle", name, err)
		}
	}
	if _, err := Open(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrNoBundle) {
		t.Errorf("a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := Open(dir); err == nil || errors.Is(err, ErrNoBundle) {
		t.Errorf("a directory: %v, want it refused as not a regular file", err)
	}
}

func goEmpty(t *testing.T, dir string) string {
	p := filepath.Join(dir, "empty")
	os.WriteFile(p, nil, 0o755)
	return p
}

func goPrefix(t *testing.T, dir string, n int) string {
	p := goProgram(t, dir, "prefix")
	if err := os.Truncate(p, int64(n)); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestOpenCorrupt: a program whose bundles cannot be trusted is an error
// matching bundle.ErrCorrupt: two bundles of a kind, a kind this library
// does not know, a damaged bundle, a build list that is not one, a beside
// bundle beside embedded bundles; and a plugin record that does not decode
// is one from ReadRecord.
func TestOpenCorrupt(t *testing.T) {
	dir := t.TempDir()
	shared := sharedBundle(t)
	damaged := slices.Clone(shared)
	damaged[len(damaged)/2] ^= 0xff
	badList := bundleOf(t, &bundle.Manifest{Kind: bundle.Shared, BuildList: []string{"example.com/host", "a b c"}})
	side := sideFixture(t, t.TempDir()).Side
	for name, extra := range map[string][][]byte{
		"two shared bundles":       {shared, bundleOf(t, &bundle.Manifest{Kind: bundle.Shared, MainModule: "example.com/other"})},
		"an unknown kind":          {shared, bundleOf(t, &bundle.Manifest{Kind: "extra"})},
		"a damaged bundle":         {damaged},
		"a bad host build list":    {badList},
		"a bad plugins build list": {shared, bundleOf(t, &bundle.Manifest{Kind: bundle.Plugins, BuildList: []string{"x", "y z => "}})},
		"beside and embedded":      {shared, bundleOf(t, &bundle.Manifest{Kind: bundle.Beside, Side: side})},
		"beside naming one bundle": {bundleOf(t, &bundle.Manifest{Kind: bundle.Beside, Side: &bundle.Side{Path: "p", Bundles: side.Bundles[:1]}})},
		"beside naming no file":    {bundleOf(t, &bundle.Manifest{Kind: bundle.Beside, Side: &bundle.Side{Bundles: side.Bundles}})},
		"beside with a bad offset": {bundleOf(t, &bundle.Manifest{Kind: bundle.Beside, Side: &bundle.Side{Path: "p", Bundles: []bundle.SideBundle{side.Bundles[1], side.Bundles[0]}}})},
		"beside naming two toolchains": {bundleOf(t, &bundle.Manifest{Kind: bundle.Beside, Side: &bundle.Side{Path: "p", Bundles: []bundle.SideBundle{
			{Manifest: side.Bundles[1].Manifest, Offset: 0, Size: side.Bundles[0].Size, SHA256: side.Bundles[0].SHA256},
			side.Bundles[1]}}})},
	} {
		p := goProgram(t, dir, "prog", extra...)
		x, err := Open(p)
		if err == nil {
			x.Close()
		}
		if !errors.Is(err, bundle.ErrCorrupt) {
			t.Errorf("%s: %v, want bundle.ErrCorrupt", name, err)
		}
	}

	x := open(t, goProgram(t, dir, "record", shared, pluginsBundle(t, `{"plugins":{"not":"a list"}}`)))
	if _, err := ReadRecord[plugin](x); !errors.Is(err, bundle.ErrCorrupt) {
		t.Errorf("a plugin record of the wrong shape: %v, want bundle.ErrCorrupt", err)
	}
}

// TestStillThere: a file rewritten in place, one renamed over the path,
// and a path with nothing at it are not the file that was read.
func TestStillThere(t *testing.T) {
	dir := t.TempDir()
	shared := sharedBundle(t)

	x := open(t, goProgram(t, dir, "rewritten", shared))
	f, err := os.OpenFile(x.Path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("more"))
	f.Close()
	if err := x.StillThere(); !errors.Is(err, ErrRewritten) {
		t.Errorf("a file rewritten in place: %v, want ErrRewritten", err)
	}

	y := open(t, goProgram(t, dir, "replaced", shared))
	other := goProgram(t, dir, "other", shared)
	if err := os.Rename(other, y.Path); err != nil {
		t.Fatal(err)
	}
	if err := y.StillThere(); !errors.Is(err, ErrRewritten) {
		t.Errorf("a file replaced by a copy: %v, want ErrRewritten", err)
	}

	z := open(t, goProgram(t, dir, "deleted", shared))
	os.Remove(z.Path)
	if err := z.StillThere(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a deleted file: %v, want fs.ErrNotExist", err)
	}
}

// TestOpenKnown: where the bundles of a file are is remembered for that
// file, and what is read through the memory is what was read without it;
// a file changed since is read afresh (a plugins bundle added is found),
// and RememberMoved carries the memory to the file's new name only while
// its content is unchanged.
func TestOpenKnown(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("file identities are not remembered on Windows")
	}
	dir := t.TempDir()
	k := known.Store{Dir: t.TempDir()}
	shared, toolchain := sharedBundle(t), toolchainBundle(t)
	p := goProgram(t, dir, "prog", shared, toolchain)

	x, err := OpenKnown(p, k)
	if err != nil {
		t.Fatal(err)
	}
	x.Close()
	var at [][2]int64
	if !k.Get(p, known.OfPath(p), &at) || !slices.Equal(at, x.Spans.At) || len(at) != 2 {
		t.Fatalf("remembered %v for the file, its spans are %v", at, x.Spans.At)
	}
	y, err := OpenKnown(p, k)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(y.Shared.Trailer(), trailerOf(shared)) || !bytes.Equal(y.Toolchain.Trailer(), trailerOf(toolchain)) || y.Shared.Manifest.MainModule != "example.com/host" {
		t.Error("the bundles read through the memory are not the file's")
	}

	moved := filepath.Join(dir, "moved")
	if err := os.Rename(p, moved); err != nil {
		t.Fatal(err)
	}
	y.Spans.RememberMoved(k, moved)
	if !k.Get(moved, known.OfPath(moved), &at) || !slices.Equal(at, y.Spans.At) {
		t.Error("the spans were not remembered under the file's new name")
	}
	y.Close()

	f, _ := os.OpenFile(moved, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(pluginsBundle(t, `{"plugins":[]}`))
	f.Close()
	z, err := OpenKnown(moved, k)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	if z.Plugins == nil || len(z.Spans.At) != 3 {
		t.Errorf("a file changed since it was remembered was not read afresh: plugins %v, spans %v", z.Plugins != nil, z.Spans.At)
	}

	again := filepath.Join(dir, "again")
	os.WriteFile(again, []byte("not the file"), 0o755)
	x.Spans.RememberMoved(k, again)
	if k.Get(again, known.OfPath(again), &at) {
		t.Error("RememberMoved remembered spans for another file")
	}
}
