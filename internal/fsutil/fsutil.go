// Package fsutil holds the file operations that the generator and the
// installer share: copying a file, writing one atomically, removing a tree
// that the go command made read-only, and asking who owns a file and how
// much room its disk has.
package fsutil

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// CopyFile copies src to a new file dst with mode perm, creating dst's
// directory (see Copy).
func CopyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return Copy(dst, in, perm)
}

// Copy writes what r reads to a new file name with mode perm, creating its
// directory. A file already at name is unlinked first, not written into:
// it may be a hard link to a cached file. It does not sync: what must
// survive a crash is synced by its caller (the swap syncs what it renames
// into place and what it keeps).
func Copy(name string, r io.Reader, perm fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	os.Remove(name)
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, r); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// WriteAtomic writes a file through a temporary file in the same
// directory, renamed into place with mode perm, so that readers see the
// old file or the whole new one. It does not sync (see Copy).
func WriteAtomic(name string, perm fs.FileMode, write func(io.Writer) error) error {
	return WriteAtomicVia(filepath.Dir(name), name, perm, write)
}

// WriteAtomicVia is WriteAtomic with the temporary file in the directory
// tmp, which must be on the same file system as name: a directory that
// its writer owns, so that what a killed writer left is found there.
func WriteAtomicVia(tmp, name string, perm fs.FileMode, write func(io.Writer) error) error {
	f, err := os.CreateTemp(tmp, "."+filepath.Base(name)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	err = write(f)
	if err == nil {
		err = f.Chmod(perm)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}

// RemoveAll removes a tree, with the read-only directories that the go
// command makes in a module cache.
func RemoveAll(dir string) error {
	if os.RemoveAll(dir) == nil {
		return nil
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(dir)
}

// Within reports whether the path p is dir or inside it, going by the
// names alone.
func Within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && filepath.IsLocal(rel)
}

// IsDir reports whether p is a directory, following symlinks.
func IsDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Exists reports whether anything is at p, without following a symlink.
func Exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// SameFile reports whether the paths a and b name the same file.
func SameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// IsFileAt reports whether the open file f is the one at path.
func IsFileAt(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}

// RemoveMeasured removes the tree at dir (RemoveAll) and returns the
// bytes of its regular files.
func RemoveMeasured(dir string) int64 {
	n := DirSize(dir)
	RemoveAll(dir)
	return n
}

// DirSize returns the bytes of the regular files under dir.
func DirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// SHA256 returns the hex sha256 of the file at path.
func SHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
