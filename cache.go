package selfcompile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// cacheRoot returns the directory that keeps restored toolchains, module
// proxies and build caches between installs, creating it private to the
// user.
func (c *SelfCompile) cacheRoot() (string, error) {
	dir := c.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("selfcompile: no cache directory (set SelfCompile.CacheDir): %w", err)
		}
		dir = filepath.Join(base, "go-selfcompile")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("selfcompile: creating cache directory: %w", err)
	}
	return dir, nil
}

// CacheEntry is one thing the library keeps between installs under
// CacheDir.
type CacheEntry struct {
	// Kind is "toolchain" (a restored Go toolchain, shared by every host
	// that bundles the same one), "build" (the go build cache, shared),
	// or "modules" (a host program's module cache).
	Kind string
	// Path is the entry's directory.
	Path string
	// Size is the bytes of its files.
	Size int64
}

// CacheUsage reports what the library keeps under CacheDir.
func (c *SelfCompile) CacheUsage() ([]CacheEntry, error) {
	root, err := c.cacheRoot()
	if err != nil {
		return nil, err
	}
	var entries []CacheEntry
	add := func(kind, dir string) {
		if isDir(dir) {
			entries = append(entries, CacheEntry{Kind: kind, Path: dir, Size: dirSize(dir)})
		}
	}
	for _, kind := range []string{"toolchains", "hosts"} {
		names, _ := os.ReadDir(filepath.Join(root, kind))
		for _, n := range names {
			if !n.IsDir() || strings.HasPrefix(n.Name(), ".") {
				continue
			}
			if kind == "toolchains" {
				add("toolchain", filepath.Join(root, kind, n.Name()))
			} else {
				add("modules", filepath.Join(root, kind, n.Name(), "mod"))
			}
		}
	}
	add("build", filepath.Join(root, "build"))
	slices.SortFunc(entries, func(a, b CacheEntry) int { return strings.Compare(a.Path, b.Path) })
	return entries, nil
}

// PurgeCache removes everything the library keeps under CacheDir. The next
// install restores the toolchain and compiles from scratch. Do not purge
// while an install runs.
func (c *SelfCompile) PurgeCache() error {
	root, err := c.cacheRoot()
	if err != nil {
		return err
	}
	makeTreeWritable(root)
	return os.RemoveAll(root)
}

func dirSize(dir string) int64 {
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
