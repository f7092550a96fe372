package fsutil

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// TestCopyFile: the copy has the source's bytes and the mode asked for,
// in a directory CopyFile made; a missing source is fs.ErrNotExist and
// leaves nothing at the destination.
func TestCopyFile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	writeFile(t, src, "hello\n")
	dst := filepath.Join(dir, "new", "sub", "dst")
	if err := CopyFile(src, dst, 0o750); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, dst); got != "hello\n" {
		t.Errorf("copy holds %q", got)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(dst); fi.Mode().Perm() != 0o750 {
			t.Errorf("copy has mode %v, want 0750", fi.Mode().Perm())
		}
	}

	missing := filepath.Join(dir, "missing-dst")
	if err := CopyFile(filepath.Join(dir, "nope"), missing, 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("copying a missing file: %v, want fs.ErrNotExist", err)
	}
	if Exists(missing) {
		t.Error("copying a missing file created the destination")
	}
}

// TestCopyUnlinksHardLink: a file already at the destination is replaced,
// not written into, so another name linked to it (a cached file) keeps its
// content.
func TestCopyUnlinksHardLink(t *testing.T) {
	dir := t.TempDir()
	cached := filepath.Join(dir, "cached")
	writeFile(t, cached, "cached content")
	dst := filepath.Join(dir, "dst")
	if err := os.Link(cached, dst); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	if err := Copy(dst, strings.NewReader("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, dst); got != "new" {
		t.Errorf("destination holds %q", got)
	}
	if got := readFile(t, cached); got != "cached content" {
		t.Errorf("the file linked to the destination was written into: %q", got)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// TestCopyErrors: a reader's error is returned as is; a destination whose
// directory cannot be made (a file is in the way) is an error.
func TestCopyErrors(t *testing.T) {
	dir := t.TempDir()
	boom := errors.New("boom")
	if err := Copy(filepath.Join(dir, "f"), failingReader{boom}, 0o644); !errors.Is(err, boom) {
		t.Errorf("a failing reader: %v, want it", err)
	}
	blocker := filepath.Join(dir, "blocker")
	writeFile(t, blocker, "x")
	if err := Copy(filepath.Join(blocker, "f"), strings.NewReader("x"), 0o644); err == nil {
		t.Error("copying under a regular file succeeded")
	}
	if got := readFile(t, blocker); got != "x" {
		t.Errorf("the file in the way now holds %q", got)
	}
}

// TestWriteAtomic: the file has what write wrote and the mode asked for,
// over the old one; a write that fails leaves the old file whole and no
// temporary file behind.
func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	writeFile(t, name, "old")
	if err := WriteAtomic(name, 0o600, func(w io.Writer) error {
		_, err := io.WriteString(w, "new content")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, name); got != "new content" {
		t.Errorf("file holds %q", got)
	}
	if runtime.GOOS != "windows" {
		if fi, _ := os.Stat(name); fi.Mode().Perm() != 0o600 {
			t.Errorf("file has mode %v, want 0600", fi.Mode().Perm())
		}
	}

	boom := errors.New("boom")
	err := WriteAtomic(name, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("a failing write: %v, want its error", err)
	}
	if got := readFile(t, name); got != "new content" {
		t.Errorf("after a failed write the file holds %q", got)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want only the file", len(entries))
	}

	if err := WriteAtomic(filepath.Join(dir, "missing", "f"), 0o644, func(io.Writer) error { return nil }); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("writing into a missing directory: %v, want fs.ErrNotExist", err)
	}
}

// TestWriteAtomicVia: the temporary file is made in the directory given,
// and gone once the file is in place.
func TestWriteAtomicVia(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o700)
	name := filepath.Join(dir, "out", "f")
	os.Mkdir(filepath.Dir(name), 0o755)
	var seen []string
	err := WriteAtomicVia(tmp, name, 0o644, func(w io.Writer) error {
		entries, _ := os.ReadDir(tmp)
		for _, e := range entries {
			seen = append(seen, e.Name())
		}
		_, err := io.WriteString(w, "data")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 {
		t.Errorf("while writing, %s held %q, want one temporary file", tmp, seen)
	}
	if got := readFile(t, name); got != "data" {
		t.Errorf("file holds %q", got)
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("%s holds %d entries after the write", tmp, len(entries))
	}
}

// TestRemoveAll: a tree with read-only directories and files, as the go
// command leaves a module cache, is removed entirely; a missing tree is
// no error.
func TestRemoveAll(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "example.com", "m@v1.0.0")
	writeFile(t, filepath.Join(tree, "sub", "a.go"), "package sub\n")
	os.Chmod(filepath.Join(tree, "sub", "a.go"), 0o444)
	os.Chmod(filepath.Join(tree, "sub"), 0o555)
	os.Chmod(tree, 0o555)
	t.Cleanup(func() { // should RemoveAll fail, let t.TempDir clean up
		os.Chmod(tree, 0o755)
		os.Chmod(filepath.Join(tree, "sub"), 0o755)
	})
	if err := RemoveAll(tree); err != nil {
		t.Fatal(err)
	}
	if Exists(tree) {
		t.Error("the tree is still there")
	}
	if !IsDir(filepath.Dir(tree)) {
		t.Error("the tree's parent was removed")
	}
	if err := RemoveAll(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("removing a missing tree: %v", err)
	}
}

// TestWithin goes by names alone.
func TestWithin(t *testing.T) {
	root := filepath.FromSlash("/a/b")
	for _, c := range []struct {
		p    string
		want bool
	}{
		{"/a/b", true},
		{"/a/b/c", true},
		{"/a/b/c/../d", true},
		{"/a/bc", false},
		{"/a", false},
		{"/a/b/../c", false},
		{"/x/a/b", false},
		{"a/b", false}, // relative against absolute
	} {
		if got := Within(filepath.FromSlash(c.p), root); got != c.want {
			t.Errorf("Within(%q, %q) = %v, want %v", c.p, root, got, c.want)
		}
	}
}

// TestIsDirExists: IsDir follows symlinks, Exists does not; neither sees
// a missing path.
func TestIsDirExists(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	writeFile(t, file, "x")
	if !IsDir(dir) || IsDir(file) || IsDir(filepath.Join(dir, "missing")) {
		t.Errorf("IsDir: dir %v, file %v, missing %v", IsDir(dir), IsDir(file), IsDir(filepath.Join(dir, "missing")))
	}
	if !Exists(dir) || !Exists(file) || Exists(filepath.Join(dir, "missing")) {
		t.Errorf("Exists: dir %v, file %v, missing %v", Exists(dir), Exists(file), Exists(filepath.Join(dir, "missing")))
	}
	dangling, toDir := filepath.Join(dir, "dangling"), filepath.Join(dir, "todir")
	if os.Symlink(filepath.Join(dir, "missing"), dangling) != nil || os.Symlink(dir, toDir) != nil {
		t.Skip("no symlinks here")
	}
	if !Exists(dangling) {
		t.Error("Exists does not see a dangling symlink")
	}
	if IsDir(dangling) || !IsDir(toDir) {
		t.Errorf("IsDir: dangling symlink %v, symlink to a directory %v", IsDir(dangling), IsDir(toDir))
	}
}

// TestSameFile: a hard link names the same file, a copy does not, and a
// missing path is the same as nothing.
func TestSameFile(t *testing.T) {
	dir := t.TempDir()
	a, link, cp := filepath.Join(dir, "a"), filepath.Join(dir, "link"), filepath.Join(dir, "copy")
	writeFile(t, a, "x")
	if err := CopyFile(a, cp, 0o644); err != nil {
		t.Fatal(err)
	}
	if !SameFile(a, a) || SameFile(a, cp) || SameFile(a, filepath.Join(dir, "missing")) {
		t.Errorf("SameFile: itself %v, a copy %v, missing %v", SameFile(a, a), SameFile(a, cp), SameFile(a, filepath.Join(dir, "missing")))
	}
	if os.Link(a, link) == nil && !SameFile(a, link) {
		t.Error("a hard link is not the same file")
	}
}

// TestIsFileAt: an open file is the one at its path until another file is
// renamed over it or it is removed; a symlink to it is not it.
func TestIsFileAt(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	writeFile(t, p, "one")
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if !IsFileAt(f, p) {
		t.Fatal("the open file is not the one at its path")
	}
	if sym := filepath.Join(dir, "sym"); os.Symlink(p, sym) == nil && IsFileAt(f, sym) {
		t.Error("the open file is the one at a symlink to it")
	}
	other := filepath.Join(dir, "other")
	writeFile(t, other, "two")
	if err := os.Rename(other, p); err != nil {
		t.Fatal(err)
	}
	if IsFileAt(f, p) {
		t.Error("the open file is still the one at its path after another was renamed over it")
	}
	os.Remove(p)
	if IsFileAt(f, p) {
		t.Error("the open file is at a path where nothing is")
	}
}

// TestDirSizeRemoveMeasured: the size counts regular files only, at every
// depth; RemoveMeasured removes the tree and returns that size.
func TestDirSizeRemoveMeasured(t *testing.T) {
	dir := t.TempDir()
	tree := filepath.Join(dir, "tree")
	writeFile(t, filepath.Join(tree, "a"), "12345")
	writeFile(t, filepath.Join(tree, "sub", "deeper", "b"), "123")
	os.Symlink(filepath.Join(tree, "a"), filepath.Join(tree, "link")) // not counted: not a regular file
	if got := DirSize(tree); got != 8 {
		t.Errorf("DirSize = %d, want 8", got)
	}
	if got := DirSize(filepath.Join(dir, "missing")); got != 0 {
		t.Errorf("DirSize of a missing tree = %d", got)
	}
	os.Chmod(filepath.Join(tree, "sub"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(tree, "sub"), 0o755) })
	if got := RemoveMeasured(tree); got != 8 {
		t.Errorf("RemoveMeasured = %d, want 8", got)
	}
	if Exists(tree) {
		t.Error("RemoveMeasured left the tree")
	}
}

// TestSHA256: the hash of a file's bytes, in hex; a missing file is
// fs.ErrNotExist and a directory an error.
func TestSHA256(t *testing.T) {
	dir := t.TempDir()
	content := bytes.Repeat([]byte("selfcompile"), 10000)
	p := filepath.Join(dir, "f")
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	if got, err := SHA256(p); err != nil || got != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %q, %v; want %x", got, err, sum)
	}
	if _, err := SHA256(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("SHA256 of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := SHA256(dir); err == nil {
		t.Error("SHA256 of a directory succeeded")
	}
}
