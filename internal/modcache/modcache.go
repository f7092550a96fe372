// Package modcache lists the files of a module cache (GOMODCACHE) that a
// bundle carries, by the names they have in the cache, so that restoring
// them into another module cache gives the go command what it reads
// offline: cache/download/PATH/@v/VERSION.{mod,info,ziphash} and the
// extracted source PATH@VERSION/; and trims a module cache to the module
// versions a program needs.
package modcache

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"golang.org/x/mod/sumdb/dirhash"
)

// Dir returns the slash path, relative to a module cache, of a module
// version's extracted source.
func Dir(mv module.Version) (string, error) {
	esc, err := module.EscapePath(mv.Path)
	if err != nil {
		return "", err
	}
	escV, err := module.EscapeVersion(mv.Version)
	if err != nil {
		return "", err
	}
	return esc + "@" + escV, nil
}

// Unescape parses the slash path of an extracted module directory,
// relative to a module cache, as in "github.com/!burnt!sushi/toml@v1.2.0".
func Unescape(rel string) (module.Version, error) {
	escPath, escV, _ := strings.Cut(rel, "@")
	p, err := module.UnescapePath(escPath)
	if err != nil {
		return module.Version{}, err
	}
	v, err := module.UnescapeVersion(escV)
	if err != nil {
		return module.Version{}, err
	}
	return module.Version{Path: p, Version: v}, nil
}

// Meta lists the files of cache/download that exist for a module version,
// among exts (".mod", ".info", ".ziphash").
func Meta(modcache string, mv module.Version, exts ...string) ([]bundle.File, error) {
	esc, err := module.EscapePath(mv.Path)
	if err != nil {
		return nil, err
	}
	escV, err := module.EscapeVersion(mv.Version)
	if err != nil {
		return nil, err
	}
	var files []bundle.File
	for _, ext := range exts {
		name := "cache/download/" + esc + "/@v/" + escV + ext
		src := filepath.Join(modcache, filepath.FromSlash(name))
		if fi, err := os.Stat(src); err == nil && fi.Mode().IsRegular() {
			files = append(files, bundle.File{Name: name, Src: src})
		}
	}
	return files, nil
}

// Tree lists the extracted source of a module version without its tests
// and test data, or nothing when the cache holds none.
func Tree(modcache string, mv module.Version) ([]bundle.File, error) {
	rel, err := Dir(mv)
	if err != nil {
		return nil, err
	}
	root := filepath.Join(modcache, filepath.FromSlash(rel))
	var files []bundle.File
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if os.IsNotExist(err) && p == root {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := Named(modcache, p)
		files = append(files, f)
		return err
	})
	return files, err
}

// Named returns the bundle file for the file at p in a module cache.
func Named(modcache, p string) (bundle.File, error) {
	rel, err := filepath.Rel(modcache, p)
	if err != nil {
		return bundle.File{}, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return bundle.File{}, err
	}
	return bundle.File{Name: filepath.ToSlash(rel), Src: p, Exec: fi.Mode()&0o111 != 0}, nil
}

// Trim removes from a module cache the extracted source and zip
// files of the module versions that keep does not list ("path@version").
// The go.mod, .info and .ziphash files stay: they are small, and loading
// the module graph offline needs them.
func Trim(cacheDir string, keep map[string]bool) int64 {
	var freed int64
	filepath.WalkDir(cacheDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(cacheDir, p)
		rel = filepath.ToSlash(rel)
		switch {
		case d.IsDir() && rel == "cache/download":
			freed += trimZips(p, keep)
			return filepath.SkipDir
		case d.IsDir() && strings.Contains(d.Name(), "@"):
			if mv, err := Unescape(rel); err == nil && !keep[mv.String()] {
				freed += fsutil.RemoveMeasured(p)
			}
			return filepath.SkipDir
		}
		return nil
	})
	return freed
}

// TrimZips removes every module zip from a module cache and returns the
// bytes freed: the go command builds from the extracted trees, and
// checks them by their .ziphash files, which stay.
func TrimZips(cacheDir string) int64 {
	return trimZips(filepath.Join(cacheDir, "cache", "download"), nil)
}

// trimZips removes the module zips under a module cache's cache/download
// of versions that keep does not list.
func trimZips(download string, keep map[string]bool) int64 {
	var freed int64
	filepath.WalkDir(download, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.HasSuffix(p, ".zip") {
			return nil
		}
		rel, _ := filepath.Rel(download, p)
		escPath, file, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		if !ok {
			return nil
		}
		if mv, err := Unescape(escPath + "@" + strings.TrimSuffix(file, ".zip")); err == nil && !keep[mv.String()] {
			if fi, err := d.Info(); err == nil && os.Remove(p) == nil {
				freed += fi.Size()
			}
		}
		return nil
	})
	return freed
}

// Paths returns where a module version's zip and extracted tree are in a
// module cache.
func Paths(modcache string, mv module.Version) (zip, dir string, err error) {
	rel, err := Dir(mv)
	if err != nil {
		return "", "", err
	}
	esc, escV, _ := strings.Cut(rel, "@")
	zip = filepath.Join(modcache, "cache", "download", filepath.FromSlash(esc), "@v", escV+".zip")
	return zip, filepath.Join(modcache, filepath.FromSlash(rel)), nil
}

// Has reports whether the cache holds a module version's files (its zip,
// or its tree), as it does for every module whose packages are built.
func Has(modcache string, mv module.Version) bool {
	zip, dir, err := Paths(modcache, mv)
	return err == nil && (fsutil.Exists(zip) || fsutil.IsDir(dir))
}

// Sum returns the h1: hash of a module version's files in the cache, as
// go.sum has it: of its zip; where the cache holds no zip (a tree restored
// from a bundle, which leaves tests out), the hash the go command recorded
// when it downloaded the zip (.ziphash), which the bundle carries; with
// neither, of its tree.
func Sum(modcache string, mv module.Version) (string, error) {
	zip, dir, err := Paths(modcache, mv)
	if err != nil {
		return "", err
	}
	if fsutil.Exists(zip) {
		return dirhash.HashZip(zip, dirhash.Hash1)
	}
	if data, err := os.ReadFile(strings.TrimSuffix(zip, ".zip") + ".ziphash"); err == nil {
		return strings.TrimSpace(string(data)), nil
	}
	return dirhash.HashDir(dir, mv.String(), dirhash.Hash1)
}

// GoMod returns the go.mod of a module version's own files (its zip, or
// its tree), or the one the go command makes up for a module without one.
func GoMod(modcache string, mv module.Version) ([]byte, error) {
	zipPath, dir, err := Paths(modcache, mv)
	if err != nil {
		return nil, err
	}
	data, err := readModuleFile(zipPath, dir, mv, "go.mod")
	if errors.Is(err, fs.ErrNotExist) {
		return []byte("module " + modfile.AutoQuote(mv.Path) + "\n"), nil
	}
	return data, err
}

// GoSum returns the lines of a module version's own go.sum: hash by "path
// version" and "path version/go.mod".
func GoSum(modcache string, mv module.Version) (map[string]string, error) {
	zipPath, dir, err := Paths(modcache, mv)
	if err != nil {
		return nil, err
	}
	data, err := readModuleFile(zipPath, dir, mv, "go.sum")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return ParseSums(data), nil
}

// ParseSums returns the lines of a go.sum: hash by "path version" and
// "path version/go.mod".
func ParseSums(data []byte) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 {
			out[f[0]+" "+f[1]] = f[2]
		}
	}
	return out
}

// CheckSums checks the module cache tree at dir (what a bundle carries)
// against the go.sum lines sums: each go.mod in its download directory
// must hash to the "/go.mod" line of its version, and each .ziphash (the
// hash of the zip, which the go command checks against go.sum before it
// uses the extracted tree) and zip to the line of its version, where sums
// has those lines. The first that does not is an error naming it.
func CheckSums(dir string, sums map[string]string) error {
	download := filepath.Join(dir, "cache", "download")
	err := filepath.WalkDir(download, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(download, p)
		escPath, file, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		ext := filepath.Ext(file)
		if !ok || (ext != ".mod" && ext != ".ziphash" && ext != ".zip") {
			return nil
		}
		mv, err := Unescape(escPath + "@" + strings.TrimSuffix(file, ext))
		if err != nil {
			return nil // not a module version's file
		}
		key, what := mv.Path+" "+mv.Version, ".ziphash (the hash of its files)"
		if ext == ".mod" {
			key, what = key+"/go.mod", "go.mod"
		} else if ext == ".zip" {
			what = "zip"
		}
		want, ok := sums[key]
		if !ok {
			return nil
		}
		got, err := fileSum(p, ext)
		if err != nil {
			return fmt.Errorf("hashing the %s of %s: %v", what, mv, err)
		}
		if got != want {
			return fmt.Errorf("%s: its %s hashes to %s, and go.sum has %s", mv, what, got, want)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// fileSum returns the h1: hash that a module version's file in a download
// directory gives, by its extension.
func fileSum(p, ext string) (string, error) {
	switch ext {
	case ".zip":
		return dirhash.HashZip(p, dirhash.Hash1)
	case ".ziphash":
		data, err := os.ReadFile(p)
		return strings.TrimSpace(string(data)), err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return "", err
	}
	return ModSum(data)
}

// readModuleFile reads a file at the root of a module version: from its
// zip, where the cache has it, else from its tree.
func readModuleFile(zipPath, dir string, mv module.Version, name string) ([]byte, error) {
	if z, err := zip.OpenReader(zipPath); err == nil {
		defer z.Close()
		f, err := z.Open(mv.Path + "@" + mv.Version + "/" + name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return io.ReadAll(io.LimitReader(f, 16<<20))
	}
	return os.ReadFile(filepath.Join(dir, name))
}

// ModSum returns the h1: hash of a go.mod file, as go.sum's "/go.mod"
// lines have it.
func ModSum(data []byte) (string, error) {
	return dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
}

// DownloadedGoMod returns the go.mod that the go command read for a
// module version, from the cache's download directory: the one minimal
// version selection uses.
func DownloadedGoMod(modcache string, mv module.Version) ([]byte, error) {
	zipPath, _, err := Paths(modcache, mv)
	if err != nil {
		return nil, err
	}
	return os.ReadFile(strings.TrimSuffix(zipPath, ".zip") + ".mod")
}

// CheckGoMod refuses a module version whose go.mod, as the go command read
// it for minimal version selection (from the download directory), is not
// the one its files carry: a module proxy can serve the two apart, and a
// module cache can hold them apart from an earlier download.
func CheckGoMod(modcache string, mv module.Version) error {
	read, err := DownloadedGoMod(modcache, mv)
	if err != nil {
		return fmt.Errorf("reading the go.mod of %s: %v", mv, err)
	}
	own, err := GoMod(modcache, mv)
	if err != nil {
		return fmt.Errorf("reading the go.mod in the files of %s: %v", mv, err)
	}
	if !bytes.Equal(read, own) {
		return fmt.Errorf("the go.mod of %s that the go command read (from the module proxy, or the module cache) is not the one in its files", mv)
	}
	return nil
}

// downloadExts are the files of a module version in cache/download, as
// the go command writes them.
var downloadExts = []string{".zip", ".ziphash", ".mod", ".info", ".lock", ".partial"}

// Discard removes everything a module cache holds of a module version (its
// zip, go.mod, .info, .ziphash, lock and extracted tree), so that the go
// command fetches it again: for a version whose files or go.mod failed a
// check. Keeping any of them would fail the genuine version's check too.
func Discard(modcache string, mv module.Version) {
	zip, dir, err := Paths(modcache, mv)
	if err != nil {
		return
	}
	fsutil.RemoveAll(dir)
	base := strings.TrimSuffix(zip, ".zip")
	for _, ext := range downloadExts {
		os.Remove(base + ext)
	}
}
