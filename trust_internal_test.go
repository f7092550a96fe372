package selfcompile

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// rebundle decodes a bundle, lets edit change its entries, and encodes it
// again with a valid trailer: damage that only the reader's own checks can
// catch.
func rebundle(t *testing.T, data []byte, edit func(hdrs []*tar.Header, bodies [][]byte) ([]*tar.Header, [][]byte)) []byte {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	var hdrs []*tar.Header
	var bodies [][]byte
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		hdrs, bodies = append(hdrs, h), append(bodies, b)
	}
	hdrs, bodies = edit(hdrs, bodies)
	var buf bytes.Buffer
	zw, _ := zstd.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for i, h := range hdrs {
		h.Size = int64(len(bodies[i]))
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(bodies[i][:h.Size])
	}
	tw.Close()
	zw.Close()
	sum := sha256.Sum256(buf.Bytes())
	return append(buf.Bytes(), trailer(sum[:])...)
}

func editManifest(t *testing.T, data []byte, edit func(m *Manifest)) []byte {
	return rebundle(t, data, func(h []*tar.Header, b [][]byte) ([]*tar.Header, [][]byte) {
		var m Manifest
		json.Unmarshal(b[0], &m)
		edit(&m)
		b[0], _ = json.Marshal(m)
		return h, b
	})
}

func addEntry(t *testing.T, data []byte, h *tar.Header) []byte {
	return rebundle(t, data, func(hs []*tar.Header, b [][]byte) ([]*tar.Header, [][]byte) {
		return append(hs, h), append(b, []byte("evil"))
	})
}

// TestHostileBundles runs installs from damaged and malicious bundles:
// each fails with a typed error before the target is touched.
func TestHostileBundles(t *testing.T) {
	good := writeSample(t, sampleFiles)
	good = editManifest(t, good, func(m *Manifest) { m.GOOS, m.GOARCH = runtime.GOOS, runtime.GOARCH })
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	cases := []struct {
		name   string
		bundle []byte
		want   error
		says   string
	}{
		{"flipped byte", flipped, ErrBundleCorrupt, "sha256 does not match"},
		{"truncated", good[:len(good)/2], ErrBundleCorrupt, "no checksum trailer"},
		{"not a bundle", []byte(strings.Repeat("not a bundle ", 10)), ErrBundleCorrupt, "no checksum trailer"},
		{"another platform", editManifest(t, good, func(m *Manifest) { m.GOOS, m.GOARCH = "plan9", "386" }), ErrPlatform, "plan9/386"},
		{"future format", editManifest(t, good, func(m *Manifest) { m.Format = 99 }), ErrBundleFormat, "format 99"},
		{"escaping entry", addEntry(t, good, &tar.Header{Name: "toolchain/../../evil", Typeflag: tar.TypeReg, Mode: 0o644}), ErrBundleCorrupt, "invalid name"},
		{"absolute entry", addEntry(t, good, &tar.Header{Name: "/etc/evil", Typeflag: tar.TypeReg, Mode: 0o644}), ErrBundleCorrupt, "unexpected entry"},
		{"symlink out", addEntry(t, good, &tar.Header{Name: "toolchain/zz", Typeflag: tar.TypeSymlink, Linkname: "/etc"}), ErrBundleCorrupt, "only regular files"},
		{"hard link out", addEntry(t, good, &tar.Header{Name: "toolchain/zz", Typeflag: tar.TypeLink, Linkname: "../../etc/passwd"}), ErrBundleCorrupt, "only regular files"},
		{"file swapped", rebundle(t, good, func(h []*tar.Header, b [][]byte) ([]*tar.Header, [][]byte) {
			b[len(b)-1] = []byte("tampered")
			return h, b
		}), ErrBundleCorrupt, "does not match its manifest"},
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "app")
	os.WriteFile(target, []byte("#!/bin/sh\necho app\n"), 0o755)
	before, _ := os.ReadFile(target)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := &SelfCompile{Target: target, Bundle: string(c.bundle), CacheDir: t.TempDir(), Root: t.TempDir(), AutoCleanup: true, Logger: log.New(io.Discard, "", 0)}
			err := sc.Compile()
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want %v saying %q", err, c.want, c.says)
			}
			if after, _ := os.ReadFile(target); !bytes.Equal(before, after) {
				t.Fatal("the target changed")
			}
			if _, err := os.Stat(filepath.Join(dir, "..", "evil")); err == nil {
				t.Fatal("an entry escaped")
			}
		})
	}
	sc := &SelfCompile{Target: target, Logger: log.New(io.Discard, "", 0)}
	if err := sc.Compile(); !errors.Is(err, ErrNoBundle) || !strings.Contains(err.Error(), "go generate") {
		t.Fatalf("no bundle: %v", err)
	}
}

// TestNoSpace: a full disk is found before any work, with an error that
// says where and how much.
func TestNoSpace(t *testing.T) {
	defer func(f func(string) (uint64, error)) { freeSpace = f }(freeSpace)
	freeSpace = func(string) (uint64, error) { return 10 << 20, nil }
	dir := t.TempDir()
	target := filepath.Join(dir, "app")
	os.WriteFile(target, bytes.Repeat([]byte{1}, 1<<20), 0o755)
	sc := &SelfCompile{Target: target, Bundle: string(writeSample(t, sampleFiles)), Root: t.TempDir(), Logger: log.New(io.Discard, "", 0)}
	err := sc.Compile()
	var se *SpaceError
	if !errors.Is(err, ErrNoSpace) || !errors.As(err, &se) || se.Dir != dir || !strings.Contains(err.Error(), "MB free") {
		t.Fatalf("err = %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 { // app and its lock file
		t.Errorf("left in the target's directory: %v", entries)
	}
}

// TestCachedToolchainTampered: a cached toolchain that was changed, grew a
// file, or is writable by others is not used.
func TestCachedToolchainTampered(t *testing.T) {
	data := writeSample(t, sampleFiles)
	br, err := openBundle(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	br.skipPart(partSource)
	br.skipPart(partModules)
	part, _ := br.Manifest.Part(partToolchain)
	cache := filepath.Join(t.TempDir(), "tc")
	if err := restoreShared(br, partToolchain, cache, nil); err != nil {
		t.Fatal(err)
	}
	br.Close()
	if err := verifyCached(cache, part); err != nil {
		t.Fatalf("fresh cache: %v", err)
	}
	tamper := map[string]func(){
		"changed file": func() { os.WriteFile(filepath.Join(cache, "VERSION"), []byte("go1.26.9\n"), 0o644) },
		"extra file":   func() { os.WriteFile(filepath.Join(cache, "src", "fmt", "evil.go"), []byte("package fmt\n"), 0o644) },
		"removed file": func() { os.Remove(filepath.Join(cache, "VERSION")) },
		"world-writable": func() {
			os.Chmod(filepath.Join(cache, "bin", "go"), 0o777)
		},
		"index removed": func() { os.Remove(filepath.Join(cache, indexFile)) },
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			saved := filepath.Join(t.TempDir(), "saved")
			copyDir(t, cache, saved)
			defer func() { os.RemoveAll(cache); copyDir(t, saved, cache) }()
			f()
			if err := verifyCached(cache, part); err == nil {
				t.Fatal("a tampered cache passed verification")
			}
		})
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	// copyTree writes 0644; keep modes and times so the index still matches.
	walkFiles(src, func(rel string, fi os.FileInfo) error {
		p := filepath.Join(dst, filepath.FromSlash(rel))
		os.Chmod(p, fi.Mode().Perm())
		return os.Chtimes(p, fi.ModTime(), fi.ModTime())
	})
	idx, _ := os.ReadFile(filepath.Join(src, indexFile))
	os.WriteFile(filepath.Join(dst, indexFile), idx, 0o600)
}
