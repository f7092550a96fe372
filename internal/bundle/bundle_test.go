package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// testParts writes files (slash names "part/rel" to contents; a name
// ending in "*" is executable) under a new directory and returns the parts
// that list them.
func testParts(t testing.TB, files map[string]string) []PartFiles {
	t.Helper()
	dir := t.TempDir()
	byPart := map[string][]File{}
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
		byPart[part] = append(byPart[part], File{Name: rel, Src: src, Exec: exec})
	}
	var parts []PartFiles
	for _, name := range []string{PartSource, PartModules, PartToolchain} {
		fs := byPart[name]
		slices.SortFunc(fs, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
		parts = append(parts, PartFiles{Name: name, Files: fs})
	}
	return parts
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
	return &Manifest{Kind: Shared, GoVersion: "go1.26.8", MainModule: "example.com/host", MainPackage: "example.com/host/cmd/host", MainDir: "cmd/host"}
}

func writeSample(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, sampleManifest(), testParts(t, files), LevelFastest); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// verify checks a bundle on its own against its trailer, as Locate does
// inside an executable.
func verify(data []byte) error {
	found, err := Locate(bytes.NewReader(data), int64(len(data)))
	switch {
	case err != nil:
		return err
	case len(found) != 1 || found[0].Size() != int64(len(data)):
		return corrupt("no bundle found")
	}
	return nil
}

// restoreAll restores every part of a bundle into dir.
func restoreAll(data []byte, dir string) error {
	if err := verify(data); err != nil {
		return err
	}
	br, err := Open(bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer br.Close()
	for _, p := range br.Manifest.Parts {
		if err := br.Restore(p.Name, dir, nil); err != nil {
			return err
		}
	}
	return br.End()
}

func TestRoundTrip(t *testing.T) {
	data := writeSample(t, sampleFiles)
	out := t.TempDir()
	if err := restoreAll(data, out); err != nil {
		t.Fatal(err)
	}
	m, err := ReadManifest(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if m.MainPackage != "example.com/host/cmd/host" || m.Kind != Shared {
		t.Fatalf("manifest: %+v", m)
	}
	for name, content := range sampleFiles {
		exec := strings.HasSuffix(name, "*")
		_, rel, _ := strings.Cut(strings.TrimSuffix(name, "*"), "/")
		p := filepath.Join(out, filepath.FromSlash(rel))
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Errorf("%s: %q, %v", rel, got, err)
		}
		fi, _ := os.Stat(p)
		if (fi.Mode()&0o100 != 0) != exec {
			t.Errorf("%s: mode %v, executable should be %v", rel, fi.Mode(), exec)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a := writeSample(t, sampleFiles)
	b := writeSample(t, sampleFiles) // another directory, other times
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

// craft writes a bundle by hand: a manifest for one toolchain part, then
// the given entries, then a valid trailer.
func craft(t *testing.T, entries []*tar.Header, bodies []string, digest string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	m := sampleManifest()
	m.Format = Format
	var size int64
	for _, b := range bodies {
		size += int64(len(b))
	}
	m.Parts = []Part{{Name: PartToolchain, Files: len(entries), Size: size, Digest: digest}}
	manifest, _ := json.Marshal(m)
	tw.WriteHeader(&tar.Header{Name: "manifest.json", Mode: 0o644, Size: int64(len(manifest)), Typeflag: tar.TypeReg})
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
	return withTrailer(buf.Bytes())
}

func withTrailer(body []byte) []byte {
	sum := sha256.Sum256(body)
	return append(body, trailer(sum[:], int64(len(body)))...)
}

// sandbox returns a directory to restore into, four levels below a root
// that the test then searches for anything that escaped.
func sandbox(t *testing.T) (root, dir string) {
	root = t.TempDir()
	dir = filepath.Join(root, "a", "b", "c", "restore")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return root, dir
}

// escaped returns the files under root but outside dir.
func escaped(root, dir string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasPrefix(p, dir+string(filepath.Separator)) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

func TestRejectsEscapingEntries(t *testing.T) {
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
			root, dir := sandbox(t)
			err := restoreAll(craft(t, []*tar.Header{h}, []string{"x"}, digest), dir)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
			if out := escaped(root, dir); len(out) > 0 {
				t.Fatalf("entries escaped to %q", out)
			}
		})
	}
}

func TestRejectsDamage(t *testing.T) {
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
			if err := restoreAll(data, t.TempDir()); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("err = %v, want ErrCorrupt", err)
			}
		})
	}
}

// A part whose files do not match the manifest's digest is refused, even
// when the archive and its trailer are well formed.
func TestDigestMismatch(t *testing.T) {
	h := &tar.Header{Name: "toolchain/VERSION", Typeflag: tar.TypeReg, Mode: 0o644}
	err := restoreAll(craft(t, []*tar.Header{h}, []string{"go1.26.8\n"}, strings.Repeat("ab", 32)), t.TempDir())
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "does not match its manifest") {
		t.Fatalf("err = %v", err)
	}
}

// The trailer catches damage anywhere in a bundle before it is read.
func TestTrailer(t *testing.T) {
	good := writeSample(t, sampleFiles)
	if err := verify(good); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(good); i += len(good)/17 + 1 {
		bad := bytes.Clone(good)
		bad[i] ^= 1
		if err := verify(bad); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	for _, n := range []int{0, 10, len(good) / 2, len(good) - 1} {
		if err := verify(good[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

// Locate finds bundles inside a larger file, as an executable embeds them,
// whatever surrounds them.
func TestLocate(t *testing.T) {
	a := writeSample(t, sampleFiles)
	other := map[string]string{"toolchain/VERSION": "go1.26.9\n"}
	b := writeSample(t, other)
	junk := bytes.Repeat([]byte("\x7fELF junk "), 700000) // past one 4 MB read
	file := slices.Concat(junk[:123], a, junk, b, junk[:77])
	found, err := Locate(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 2 {
		t.Fatalf("found %d bundles, want 2", len(found))
	}
	for i, want := range [][]byte{a, b} {
		got := make([]byte, found[i].Size())
		found[i].ReadAt(got, 0)
		if !bytes.Equal(got, want) {
			t.Errorf("bundle %d: %d bytes, not the bundle embedded", i, len(got))
		}
	}
}

// A damaged bundle in a file is reported as damaged, naming its kind and
// the part whose bytes changed, not skipped as if it were not there.
func TestLocateDamaged(t *testing.T) {
	a := writeSample(t, sampleFiles)
	for _, c := range []struct {
		at   int
		says string
	}{
		{len(a) / 2, `the shared bundle's`},                                              // in a part
		{len(a) - int(TrailerLen) + 20, "the shared bundle does not match its checksum"}, // in the trailer's sha256
		{len(a) - 8, "that is not there"},                                                // in the trailer's length
		{len(a) - 2, "which the file does not have"},                                     // in the trailer's length
	} {
		bad := bytes.Clone(a)
		bad[c.at] ^= 0x40
		file := slices.Concat([]byte("\x7fELF"), bad, []byte("tail"))
		_, err := Locate(bytes.NewReader(file), int64(len(file)))
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("byte %d flipped: %v, want ErrCorrupt saying %q", c.at, err, c.says)
		}
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.ReaderAt
	n int64
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// Fake trailers every 16 KiB, each naming everything before it as its
// bundle, cost Locate a read of the file, not a hash of the file per
// trailer; so do many trailers naming the same start.
func TestLocateLinear(t *testing.T) {
	a := writeSample(t, sampleFiles)
	body := slices.Concat(a[:len(a)-int(TrailerLen)], bytes.Repeat([]byte{0}, 4<<20))
	var file []byte
	file = append(file, body...)
	for len(file) < 8<<20 {
		file = append(file, bytes.Repeat([]byte{1}, 16<<10)...)
		file = append(file, trailer(make([]byte, 32), int64(len(file)))...)
	}
	cr := &countingReader{r: bytes.NewReader(file)}
	_, err := Locate(cr, int64(len(file)))
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want ErrCorrupt", err)
	}
	if cr.n > 3*int64(len(file)) {
		t.Errorf("Locate read %d bytes of a %d-byte file", cr.n, len(file))
	}
}

// FuzzReader feeds arbitrary bytes to the reader: it must fail cleanly or
// restore, and never write outside the directory it is given.
func FuzzReader(f *testing.F) {
	good := writeSample(f, sampleFiles)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte("\x28\xb5\x2f\xfd"))
	for _, i := range []int{10, 100, len(good) / 3} {
		b := bytes.Clone(good)
		b[i] ^= 0xff
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		Locate(bytes.NewReader(data), int64(len(data))) // must not panic
		br, err := Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		declared := br.Manifest.Size()
		br.Close()
		if declared < 0 || declared > 1<<20 {
			return // a restore writes up to what the manifest declares, which an install checks the disk has room for
		}
		root, dir := sandbox(t)
		br, _ = Open(bytes.NewReader(data))
		for _, p := range br.Manifest.Parts {
			if br.Restore(p.Name, dir, nil) != nil {
				break
			}
		}
		br.Close()
		if out := escaped(root, dir); len(out) > 0 {
			t.Fatalf("the reader wrote outside its directory: %q", out)
		}
	})
}

// A toolchain bundle that pins its toolchain module must pin it whole: a
// manifest without its digest, hash or version is corrupt, not a panic
// later.
func TestPinnedModuleChecked(t *testing.T) {
	good := ToolchainModule{Version: "v0.0.1-go1.26.8.linux-amd64", Sum: "h1:x", Part: Part{Name: PartToolchain, Files: 1, Digest: strings.Repeat("a", 64)}}
	for _, c := range []struct {
		name string
		edit func(m *ToolchainModule)
		ok   bool
	}{
		{"whole", func(*ToolchainModule) {}, true},
		{"short digest", func(m *ToolchainModule) { m.Part.Digest = "abc" }, false},
		{"no hash", func(m *ToolchainModule) { m.Sum = "" }, false},
		{"no version", func(m *ToolchainModule) { m.Version = "" }, false},
	} {
		pin := good
		c.edit(&pin)
		var buf bytes.Buffer
		m := &Manifest{Kind: Toolchain, GoVersion: "go1.26.8", GOOS: "linux", GOARCH: "amd64", Module: &pin}
		if err := Write(&buf, m, nil, LevelFastest); err != nil {
			t.Fatal(err)
		}
		r, err := Open(bytes.NewReader(buf.Bytes()))
		if err == nil {
			r.Close()
		}
		if (err == nil) != c.ok || err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
