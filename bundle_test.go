package selfcompile

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// testTree writes files (slash names to contents; a name ending in "*" is
// executable) under a new directory and returns the directory and the
// bundle parts that list them.
func testTree(t testing.TB, files map[string]string) (string, []bundlePart) {
	t.Helper()
	dir := t.TempDir()
	byPart := map[string][]bundleFile{}
	for name, content := range files {
		exec := strings.HasSuffix(name, "*")
		name = strings.TrimSuffix(name, "*")
		part, rel, _ := strings.Cut(name, "/")
		src := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(src), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(src, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		byPart[part] = append(byPart[part], bundleFile{name: rel, src: src, exec: exec})
	}
	var parts []bundlePart
	for _, name := range []string{partSource, partModules, partToolchain} {
		fs := byPart[name]
		slices.SortFunc(fs, func(a, b bundleFile) int { return strings.Compare(a.name, b.name) })
		parts = append(parts, bundlePart{name, fs})
	}
	return dir, parts
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

var sampleFiles = map[string]string{
	"source/go.mod":                  "module example.com/host\n",
	"source/cmd/host/main.go":        "package main\nfunc main() {}\n",
	"modules/cache/download/x/@v/v1": "v1",
	"toolchain/bin/go*":              "#!/bin/sh\necho go\n",
	"toolchain/src/fmt/print.go":     strings.Repeat("package fmt\n", 1000),
	"toolchain/VERSION":              "go1.26.8\n",
}

func sampleManifest() *Manifest {
	return &Manifest{GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64", MainModule: "example.com/host", MainPackage: "example.com/host/cmd/host", MainDir: "cmd/host"}
}

func writeSample(t testing.TB, files map[string]string) []byte {
	t.Helper()
	_, parts := testTree(t, files)
	var buf bytes.Buffer
	if err := writeBundle(&buf, sampleManifest(), parts, LevelFastest); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestBundleRoundTrip(t *testing.T) {
	data := writeSample(t, sampleFiles)
	br, err := openBundle(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer br.Close()
	if br.Manifest.MainPackage != "example.com/host/cmd/host" || len(br.Manifest.Parts) != 3 {
		t.Fatalf("manifest: %+v", br.Manifest)
	}
	out := t.TempDir()
	for _, p := range br.Manifest.Parts {
		if err := os.MkdirAll(filepath.Join(out, p.Name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := br.restorePart(p.Name, filepath.Join(out, p.Name), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := br.end(); err != nil {
		t.Fatal(err)
	}
	for name, content := range sampleFiles {
		exec := strings.HasSuffix(name, "*")
		name = strings.TrimSuffix(name, "*")
		p := filepath.Join(out, filepath.FromSlash(name))
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("%s: content differs", name)
		}
		fi, _ := os.Stat(p)
		if (fi.Mode()&0o100 != 0) != exec {
			t.Errorf("%s: mode %v, executable should be %v", name, fi.Mode(), exec)
		}
	}
}

func TestBundleDeterministic(t *testing.T) {
	a := writeSample(t, sampleFiles)
	b := writeSample(t, sampleFiles) // other directory, other mtimes
	if !bytes.Equal(a, b) {
		t.Fatal("the same inputs gave different bundles")
	}
	changed := map[string]string{}
	for k, v := range sampleFiles {
		changed[k] = v
	}
	changed["toolchain/VERSION"] = "go1.26.9\n"
	if bytes.Equal(a, writeSample(t, changed)) {
		t.Fatal("different inputs gave the same bundle")
	}
}

// craft writes a bundle by hand: a valid manifest for one toolchain part,
// then the given entries.
func craft(t *testing.T, entries []*tar.Header, bodies []string, digest string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	m := sampleManifest()
	m.Format = bundleFormat
	var size int64
	for _, b := range bodies {
		size += int64(len(b))
	}
	m.Parts = []Part{{Name: partToolchain, Files: len(entries), Size: size, Digest: digest}}
	manifest := mustJSON(t, m)
	tw.WriteHeader(&tar.Header{Name: manifestName, Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg})
	tw.Write(manifest)
	for i, h := range entries {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(bodies[i]))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(bodies[i]))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func restoreAll(data []byte, dir string) error {
	br, err := openBundle(bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer br.Close()
	for _, p := range br.Manifest.Parts {
		if err := br.restorePart(p.Name, dir, nil); err != nil {
			return err
		}
	}
	return br.end()
}

func TestBundleRejectsEscapingEntries(t *testing.T) {
	digest := strings.Repeat("0", 64)
	cases := map[string]*tar.Header{
		"dot-dot":          {Name: "toolchain/../../evil", Typeflag: tar.TypeReg, Mode: 0o644},
		"nested dot-dot":   {Name: "toolchain/src/../../../evil", Typeflag: tar.TypeReg, Mode: 0o644},
		"absolute":         {Name: "toolchain//etc/evil", Typeflag: tar.TypeReg, Mode: 0o644},
		"symlink out":      {Name: "toolchain/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"},
		"symlink in":       {Name: "toolchain/link", Typeflag: tar.TypeSymlink, Linkname: "src"},
		"hard link out":    {Name: "toolchain/hard", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"},
		"device":           {Name: "toolchain/dev", Typeflag: tar.TypeChar},
		"backslash escape": {Name: `toolchain/..\..\evil`, Typeflag: tar.TypeReg, Mode: 0o644},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "root")
			os.Mkdir(dir, 0o755)
			err := restoreAll(craft(t, []*tar.Header{h}, []string{"x"}, digest), dir)
			if !errors.Is(err, ErrBundleCorrupt) {
				t.Fatalf("err = %v, want ErrBundleCorrupt", err)
			}
			if _, err := os.Stat(filepath.Join(parent, "evil")); err == nil {
				t.Fatal("an entry was written outside the directory")
			}
		})
	}
}

func TestBundleRejectsDamage(t *testing.T) {
	good := writeSample(t, sampleFiles)
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x40
	cases := map[string][]byte{
		"flipped byte":  flipped,
		"truncated":     good[:len(good)*2/3],
		"empty":         {},
		"not zstd":      []byte("PK\x03\x04 this is a zip"),
		"only manifest": good[:64],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			err := restoreAll(data, t.TempDir())
			if !errors.Is(err, ErrBundleCorrupt) {
				t.Fatalf("err = %v, want ErrBundleCorrupt", err)
			}
		})
	}
}

// A part whose files do not match the manifest's digest is refused, even
// when the archive itself is well formed.
func TestBundleDigestMismatch(t *testing.T) {
	h := &tar.Header{Name: "toolchain/VERSION", Typeflag: tar.TypeReg, Mode: 0o644}
	err := restoreAll(craft(t, []*tar.Header{h}, []string{"go1.26.8\n"}, strings.Repeat("ab", 32)), t.TempDir())
	if !errors.Is(err, ErrBundleCorrupt) || !strings.Contains(err.Error(), "does not match its manifest") {
		t.Fatalf("err = %v", err)
	}
}

// The trailer catches damage anywhere in the bundle before it is read.
func TestBundleTrailer(t *testing.T) {
	good := writeSample(t, sampleFiles)
	if err := checkTrailer(string(good)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(good); i += len(good)/17 + 1 {
		bad := bytes.Clone(good)
		bad[i] ^= 1
		if err := checkTrailer(string(bad)); !errors.Is(err, ErrBundleCorrupt) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	for _, n := range []int{0, 10, len(good) / 2, len(good) - 1} {
		if err := checkTrailer(string(good[:n])); !errors.Is(err, ErrBundleCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}
