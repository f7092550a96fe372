// Package modcache lists the files of a module cache (GOMODCACHE) that a
// bundle carries, by the names they have in the cache, so that restoring
// them into another module cache gives the go command what it reads
// offline: cache/download/PATH/@v/VERSION.{mod,info,ziphash} and the
// extracted source PATH@VERSION/.
package modcache

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/bundle"
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
