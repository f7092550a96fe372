package cachetree

import (
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// part is a part to write into a test bundle: file contents by slash
// name, and the names of the executable ones.
type part struct {
	name  string
	files map[string]string
	exec  []string
}

// writeBundle writes a bundle of parts, in order, and returns its bytes
// and manifest.
func writeBundle(t *testing.T, parts ...part) ([]byte, *bundle.Manifest) {
	t.Helper()
	src := t.TempDir()
	var pfs []bundle.PartFiles
	for _, p := range parts {
		pf := bundle.PartFiles{Name: p.name}
		for _, name := range slices.Sorted(maps.Keys(p.files)) {
			path := filepath.Join(src, p.name, filepath.FromSlash(name))
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(p.files[name]), 0o644); err != nil {
				t.Fatal(err)
			}
			pf.Files = append(pf.Files, bundle.File{Name: name, Src: path, Exec: slices.Contains(p.exec, name)})
		}
		pfs = append(pfs, pf)
	}
	m := &bundle.Manifest{Kind: bundle.Shared}
	var b bytes.Buffer
	if err := bundle.Write(&b, m, pfs, bundle.LevelFastest); err != nil {
		t.Fatal(err)
	}
	return b.Bytes(), m
}

// openBundle opens a reader of data, closed at the test's end.
func openBundle(t *testing.T, data []byte) *bundle.Reader {
	t.Helper()
	br, err := bundle.Open(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(br.Close)
	return br
}

func mustPart(t *testing.T, m *bundle.Manifest, name string) bundle.Part {
	t.Helper()
	p, ok := m.Part(name)
	if !ok {
		t.Fatalf("the bundle has no part %q", name)
	}
	return p
}

// entries returns the names in dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

var sourcePart = part{
	name: bundle.PartSource,
	files: map[string]string{
		"go.mod":       "module example.com/host\n",
		"main.go":      "package main\n",
		"sub/lib.go":   "package sub\n",
		"tools/run.sh": "#!/bin/sh\n",
	},
	exec: []string{"tools/run.sh"},
}

// TestRestore: the part's files are in the final directory, executable
// where the bundle says, dated Restored, with an index; Verify accepts the
// tree; progress counts every byte; and the parent holds the tree alone:
// no temporary directory or lock file of this restore, nor the one a
// killed install left.
func TestRestore(t *testing.T) {
	data, m := writeBundle(t, sourcePart)
	p := mustPart(t, m, bundle.PartSource)
	parent := filepath.Join(t.TempDir(), "cache", "source")
	os.MkdirAll(filepath.Join(parent, tmpPrefix+"killed"), 0o700) // what a killed install left, its lock free
	os.WriteFile(filepath.Join(parent, tmpPrefix+"killed.lock"), nil, 0o600)
	final := filepath.Join(parent, p.Digest)

	var progress int64
	if err := Restore(openBundle(t, data), bundle.PartSource, final, func(n int64) { progress += n }); err != nil {
		t.Fatal(err)
	}
	for name, content := range sourcePart.files {
		path := filepath.Join(final, filepath.FromSlash(name))
		if got := readFile(t, path); got != content {
			t.Errorf("%s holds %q, want %q", name, got, content)
		}
		fi, _ := os.Stat(path)
		if !fi.ModTime().Equal(Restored) {
			t.Errorf("%s is dated %v, want %v", name, fi.ModTime(), Restored)
		}
		if exec := fi.Mode()&0o111 != 0; runtime.GOOS != "windows" && exec != slices.Contains(sourcePart.exec, name) {
			t.Errorf("%s has mode %v", name, fi.Mode())
		}
	}
	if !fsutil.Exists(filepath.Join(final, IndexFile)) {
		t.Error("the restored tree has no index")
	}
	if err := Verify(final, p); err != nil {
		t.Errorf("Verify of a tree just restored: %v", err)
	}
	if progress != p.Size {
		t.Errorf("progress counted %d bytes, the part has %d", progress, p.Size)
	}
	if got := entries(t, parent); !slices.Equal(got, []string{p.Digest}) {
		t.Errorf("the cache directory holds %q, want only the tree", got)
	}
}

// TestRestoreTwice: a part restored by another installer first is kept as
// it is, and the second restore cleans up after itself.
func TestRestoreTwice(t *testing.T) {
	data, m := writeBundle(t, sourcePart)
	p := mustPart(t, m, bundle.PartSource)
	parent := t.TempDir()
	final := filepath.Join(parent, p.Digest)
	if err := Restore(openBundle(t, data), bundle.PartSource, final, nil); err != nil {
		t.Fatal(err)
	}
	first, _ := os.Stat(filepath.Join(final, "main.go"))
	if err := Restore(openBundle(t, data), bundle.PartSource, final, nil); err != nil {
		t.Fatalf("restoring a part already restored: %v", err)
	}
	if second, err := os.Stat(filepath.Join(final, "main.go")); err != nil || !os.SameFile(first, second) {
		t.Errorf("the first tree was not kept (%v)", err)
	}
	if err := Verify(final, p); err != nil {
		t.Errorf("Verify after the second restore: %v", err)
	}
	if got := entries(t, parent); !slices.Equal(got, []string{p.Digest}) {
		t.Errorf("the cache directory holds %q, want only the tree", got)
	}
}

// TestRestoreBad: a part that does not match its digest, or is not the
// next in the bundle, is an error matching bundle.ErrCorrupt, and leaves
// nothing in the cache: no final tree, no temporary one.
func TestRestoreBad(t *testing.T) {
	data, m := writeBundle(t, sourcePart)
	for _, c := range []struct {
		name, part string
		digest     string
	}{
		{"digest", bundle.PartSource, strings.Repeat("0", 64)},
		{"not next", bundle.PartModules, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			br := openBundle(t, data)
			if c.digest != "" {
				br.Manifest.Parts[0].Digest = c.digest
			}
			parent := t.TempDir()
			final := filepath.Join(parent, mustPart(t, m, bundle.PartSource).Digest)
			err := Restore(br, c.part, final, nil)
			if !errors.Is(err, bundle.ErrCorrupt) {
				t.Errorf("Restore: %v, want bundle.ErrCorrupt", err)
			}
			if got := entries(t, parent); len(got) != 0 {
				t.Errorf("the cache directory holds %q", got)
			}
		})
	}
}

// TestVerify: every change to a restored tree that a stat can see makes
// Verify refuse it, and so does a tree that is not private to this user;
// a tree without its index is fs.ErrNotExist.
func TestVerify(t *testing.T) {
	data, m := writeBundle(t, sourcePart)
	p := mustPart(t, m, bundle.PartSource)
	later := Restored.Add(time.Hour)
	for _, c := range []struct {
		name   string
		change func(t *testing.T, dir string) bundle.Part
		err    error // to match, if any
	}{
		{"rewritten", func(t *testing.T, dir string) bundle.Part {
			os.WriteFile(filepath.Join(dir, "main.go"), []byte("package evil\n"), 0o644)
			return p
		}, nil},
		{"touched", func(t *testing.T, dir string) bundle.Part {
			os.Chtimes(filepath.Join(dir, "main.go"), later, later)
			return p
		}, nil},
		{"mode changed", func(t *testing.T, dir string) bundle.Part {
			os.Chmod(filepath.Join(dir, "main.go"), 0o755)
			return p
		}, nil},
		{"file added", func(t *testing.T, dir string) bundle.Part {
			os.WriteFile(filepath.Join(dir, "sub", "extra.go"), []byte("package sub\n"), 0o644)
			os.Chtimes(filepath.Join(dir, "sub", "extra.go"), Restored, Restored)
			return p
		}, nil},
		{"file removed", func(t *testing.T, dir string) bundle.Part {
			os.Remove(filepath.Join(dir, "sub", "lib.go"))
			return p
		}, nil},
		{"symlink for a file", func(t *testing.T, dir string) bundle.Part {
			target := filepath.Join(dir, "main.go")
			os.Rename(target, filepath.Join(t.TempDir(), "main.go"))
			if err := os.Symlink(filepath.Join(dir, "go.mod"), target); err != nil {
				t.Skip("no symlinks here")
			}
			return p
		}, nil},
		{"index removed", func(t *testing.T, dir string) bundle.Part {
			os.Remove(filepath.Join(dir, IndexFile))
			return p
		}, fs.ErrNotExist},
		{"directory gone", func(t *testing.T, dir string) bundle.Part {
			fsutil.RemoveAll(dir)
			return p
		}, fs.ErrNotExist},
		{"another part's file count", func(t *testing.T, dir string) bundle.Part {
			q := p
			q.Files++
			return q
		}, nil},
		{"directory writable by others", func(t *testing.T, dir string) bundle.Part {
			if runtime.GOOS == "windows" {
				t.Skip("Windows trusts the cache's ACL")
			}
			os.Chmod(dir, 0o777)
			return p
		}, nil},
		{"index writable by others", func(t *testing.T, dir string) bundle.Part {
			if runtime.GOOS == "windows" {
				t.Skip("Windows trusts the cache's ACL")
			}
			os.Chmod(filepath.Join(dir, IndexFile), 0o666)
			return p
		}, nil},
		{"file writable by group", func(t *testing.T, dir string) bundle.Part {
			if runtime.GOOS == "windows" {
				t.Skip("Windows trusts the cache's ACL")
			}
			// The mode is in the index too: put it there, so that only
			// the privacy check can refuse the tree.
			f := filepath.Join(dir, "main.go")
			os.Chmod(f, 0o664)
			if err := writeIndex(dir); err != nil {
				t.Fatal(err)
			}
			return p
		}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tree")
			if err := Restore(openBundle(t, data), bundle.PartSource, dir, nil); err != nil {
				t.Fatal(err)
			}
			if err := Verify(dir, p); err != nil {
				t.Fatalf("Verify before the change: %v", err)
			}
			q := c.change(t, dir)
			err := Verify(dir, q)
			if err == nil {
				t.Fatal("Verify accepted the tree")
			}
			if c.err != nil && !errors.Is(err, c.err) {
				t.Errorf("Verify: %v, want %v", err, c.err)
			}
		})
	}
}

// TestVerifyOtherOwner: a tree (or a file in it) that another user owns is
// refused, though nothing else changed.
func TestVerifyOtherOwner(t *testing.T) {
	if runtime.GOOS == "windows" || os.Geteuid() != 0 {
		t.Skip("changing a file's owner needs root on Unix")
	}
	data, m := writeBundle(t, sourcePart)
	p := mustPart(t, m, bundle.PartSource)
	for _, name := range []string{".", "sub/lib.go"} {
		dir := filepath.Join(t.TempDir(), "tree")
		if err := Restore(openBundle(t, data), bundle.PartSource, dir, nil); err != nil {
			t.Fatal(err)
		}
		if err := os.Lchown(filepath.Join(dir, filepath.FromSlash(name)), 65534, -1); err != nil {
			t.Skipf("chown: %v", err)
		}
		if err := Verify(dir, p); err == nil {
			t.Errorf("Verify accepted a tree whose %s another user owns", name)
		}
	}
}

var modulesPart = part{
	name: bundle.PartModules,
	files: map[string]string{
		"cache/download/example.com/m/@v/v1.0.0.mod": "module example.com/m\n",
		"example.com/m@v1.0.0/m.go":                  "package m\n",
		"example.com/m@v1.0.0/sub/new.go":            "package sub\n",
	},
}

// TestMerge: each file of the part is in the cache after Merge: a file
// there with other content is replaced, one with the same content is left
// as it was (the same file), a directory the go command made read-only is
// read-only again; the module files are dated Restored; the marker is
// written, and the staging directory is gone.
func TestMerge(t *testing.T) {
	data, m := writeBundle(t, modulesPart)
	p := mustPart(t, m, bundle.PartModules)
	cache := t.TempDir()
	modDir := filepath.Join(cache, "example.com", "m@v1.0.0")
	sub := filepath.Join(modDir, "sub")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(modDir, "m.go"), []byte("package m\n"), 0o444)  // the same
	os.WriteFile(filepath.Join(sub, "new.go"), []byte("package bad\n"), 0o444) // different
	same, _ := os.Stat(filepath.Join(modDir, "m.go"))
	os.Chmod(sub, 0o555)
	os.Chmod(modDir, 0o555)
	t.Cleanup(func() { os.Chmod(modDir, 0o755); os.Chmod(sub, 0o755) })

	marker := Marker(cache, p)
	var progress int64
	if err := Merge(openBundle(t, data), bundle.PartModules, cache, marker, func(n int64) { progress += n }); err != nil {
		t.Fatal(err)
	}
	for name, content := range modulesPart.files {
		path := filepath.Join(cache, filepath.FromSlash(name))
		if got := readFile(t, path); got != content {
			t.Errorf("%s holds %q, want %q", name, got, content)
		}
		if fi, _ := os.Stat(path); !fi.ModTime().Equal(Restored) && !os.SameFile(fi, same) {
			t.Errorf("%s is dated %v, want %v", name, fi.ModTime(), Restored)
		}
	}
	if fi, _ := os.Stat(filepath.Join(modDir, "m.go")); !os.SameFile(fi, same) {
		t.Error("a file with the part's content was replaced")
	}
	for _, d := range []string{modDir, sub} {
		if fi, _ := os.Stat(d); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o555 {
			t.Errorf("%s has mode %v after the merge, want it read-only as before", d, fi.Mode().Perm())
		}
	}
	if !fsutil.Exists(marker) {
		t.Error("no marker")
	}
	if progress != p.Size {
		t.Errorf("progress counted %d bytes, the part has %d", progress, p.Size)
	}
	for _, name := range entries(t, cache) {
		if strings.HasPrefix(name, tmpPrefix) {
			t.Errorf("the cache holds %s", name)
		}
	}
}

// TestMergeKeepsTimes: the files of a part other than the module cache
// (go build cache entries) keep the time they were restored at, which the
// go command trims by.
func TestMergeKeepsTimes(t *testing.T) {
	data, m := writeBundle(t, part{name: bundle.PartCache, files: map[string]string{"ab/abcdef-a": "output"}})
	cache := t.TempDir()
	before := time.Now().Add(-time.Minute)
	if err := Merge(openBundle(t, data), bundle.PartCache, cache, Marker(cache, mustPart(t, m, bundle.PartCache)), nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(cache, "ab", "abcdef-a"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.ModTime().Before(before) {
		t.Errorf("a build cache entry is dated %v, before the merge", fi.ModTime())
	}
}

// TestMergeBad: a part that does not match its digest is an error matching
// bundle.ErrCorrupt; nothing enters the cache and no marker is written.
func TestMergeBad(t *testing.T) {
	data, m := writeBundle(t, modulesPart)
	br := openBundle(t, data)
	br.Manifest.Parts[0].Digest = strings.Repeat("0", 64)
	cache := t.TempDir()
	marker := Marker(cache, mustPart(t, m, bundle.PartModules))
	if err := Merge(br, bundle.PartModules, cache, marker, nil); !errors.Is(err, bundle.ErrCorrupt) {
		t.Errorf("Merge: %v, want bundle.ErrCorrupt", err)
	}
	if got := entries(t, cache); len(got) != 0 {
		t.Errorf("the cache holds %q", got)
	}
}

// TestStageClose: a staged part is in its own directory of the cache,
// which can be read before the merge; closing it without a merge leaves
// the cache as it was.
func TestStageClose(t *testing.T) {
	data, _ := writeBundle(t, modulesPart)
	cache := t.TempDir()
	s, err := Stage(openBundle(t, data), bundle.PartModules, cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !fsutil.Within(s.Dir, cache) || s.Dir == cache {
		t.Errorf("staged in %s, not in the cache %s", s.Dir, cache)
	}
	if got := readFile(t, filepath.Join(s.Dir, "example.com", "m@v1.0.0", "m.go")); got != "package m\n" {
		t.Errorf("the staged file holds %q", got)
	}
	s.Close()
	if got := entries(t, cache); len(got) != 0 {
		t.Errorf("after Close the cache holds %q", got)
	}
}

// TestMarkerForgetMerged: markers are in the cache directory, one per
// part and digest; ForgetMerged removes them but for those kept, and
// leaves the cache's other files.
func TestMarkerForgetMerged(t *testing.T) {
	cache := t.TempDir()
	a := bundle.Part{Name: bundle.PartModules, Digest: strings.Repeat("a", 64)}
	b := bundle.Part{Name: bundle.PartModules, Digest: strings.Repeat("b", 64)}
	c := bundle.Part{Name: bundle.PartCache, Digest: strings.Repeat("a", 64)}
	ma, mb, mc := Marker(cache, a), Marker(cache, b), Marker(cache, c)
	if ma == mb || ma == mc || filepath.Dir(ma) != cache {
		t.Fatalf("markers %s, %s, %s", ma, mb, mc)
	}
	for _, m := range []string{ma, mb, mc} {
		os.WriteFile(m, nil, 0o600)
	}
	other := filepath.Join(cache, "example.com", "m@v1.0.0", "m.go")
	os.MkdirAll(filepath.Dir(other), 0o755)
	os.WriteFile(other, nil, 0o644)

	ForgetMerged(cache, mb)
	if fsutil.Exists(ma) || fsutil.Exists(mc) {
		t.Error("a marker not kept is still there")
	}
	if !fsutil.Exists(mb) || !fsutil.Exists(other) {
		t.Error("ForgetMerged removed a kept marker or a cached file")
	}
}

// TestDiscard: a bad tree, read-only directories and all, is gone, and
// nothing of it is left beside it; a missing one is nothing to do.
func TestDiscard(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "tree")
	sub := filepath.Join(dir, "sub")
	os.MkdirAll(sub, 0o755)
	os.WriteFile(filepath.Join(sub, "f"), []byte("x"), 0o444)
	os.Chmod(sub, 0o555)
	Discard(dir)
	if got := entries(t, parent); len(got) != 0 {
		t.Errorf("after Discard the parent holds %q", got)
	}
	Discard(filepath.Join(parent, "missing"))
}
