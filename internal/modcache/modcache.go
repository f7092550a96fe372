// Package modcache lists the files of a module cache (GOMODCACHE) that a
// bundle carries, by the names they have in the cache, so that restoring
// them into another module cache gives the go command what it reads
// offline: cache/download/PATH/@v/VERSION.{mod,info,ziphash} and the
// extracted source PATH@VERSION/; and trims a module cache to the module
// versions a program needs.
package modcache

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
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
				freed += removeMeasured(p)
			}
			return filepath.SkipDir
		}
		return nil
	})
	return freed
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

// removeMeasured removes a tree and returns the bytes of its files.
func removeMeasured(dir string) int64 {
	n := fsutil.DirSize(dir)
	fsutil.RemoveAll(dir)
	return n
}
