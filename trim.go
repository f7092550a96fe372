package selfcompile

// TrimCache: what the current executable does not need, removed from the
// cache.

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/cachetree"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/lockfile"
	"github.com/shazow/go-selfcompile/internal/modcache"
)

// TrimCache removes what the current executable (Target) does not need
// for its next install, and returns the bytes freed: toolchains it does
// not bundle, other programs' caches, its own source of other versions,
// the modules of its own cache that its build list no longer names, the
// build cache entries that a build of its program, as its last install
// made it, does not use, and what killed installs left. To know those
// entries, it builds the program (all from the cache, offline, into its
// workdir). Other programs of the user restore or compile what they need
// again at their next install. It fails with ErrLocked while an install
// that uses the cache runs.
func (c *SelfCompile) TrimCache(ctx context.Context) (freed int64, err error) {
	freed, err = c.trimCache(ctx)
	return freed, prefixed(err)
}

func (c *SelfCompile) trimCache(ctx context.Context) (freed int64, err error) {
	root, err := c.cacheRoot()
	if err != nil {
		return 0, err
	}
	release, err := lockCache(ctx, root, true, c.logf)
	if err != nil {
		return 0, err
	}
	defer release()
	target, err := c.target()
	if err != nil {
		return 0, err
	}
	bin, err := openExe(target)
	if err != nil {
		return 0, err
	}
	defer bin.Close()
	keepToolchain := toolchainDir(root, bin.Toolchain.Manifest)
	for _, d := range subdirs(filepath.Join(root, toolchainsDir)) {
		if d != keepToolchain {
			freed += removeMeasured(d)
		}
	}
	host := hostDir(root, bin.Shared.Manifest.MainPackage)
	for _, d := range subdirs(filepath.Join(root, hostsDir)) {
		if d != host {
			freed += removeMeasured(d)
		}
	}
	srcs, _ := filepath.Glob(filepath.Join(host, "src-*"))
	for _, s := range srcs {
		if p, ok := bin.Shared.Manifest.Part(bundle.PartSource); !ok || filepath.Base(s) != "src-"+p.Digest[:24] {
			freed += removeMeasured(s)
		}
	}
	lockfile.RemoveStale(workRoot(root), workPrefix)
	// The build first: its restore would merge again the modules trimmed.
	n, err := c.trimBuildCache(ctx, filepath.Join(root, buildDir))
	mod := filepath.Join(host, "mod")
	return freed + n + forgetMerged(mod, trimModules(mod, keptModules(bin))), err
}

// forgetMerged forgets the parts merged into the cache dir once files
// were removed from it: the next install that needs a part merges it
// again.
func forgetMerged(dir string, freed int64) int64 {
	if freed > 0 {
		cachetree.ForgetMerged(dir)
	}
	return freed
}

// keptModules returns the module versions, as "path@version", of the
// host's build list and of the last install's: what the next install,
// offline, may need.
func keptModules(bin *exe.File) map[string]bool {
	out := map[string]bool{}
	for _, list := range []gosrc.BuildList{bin.HostList, bin.LastList} {
		for _, m := range list {
			if mv, ok := m.Cached(); ok {
				out[mv.String()] = true
			}
		}
	}
	return out
}

// trimBuildCache removes the go build cache entries that a build of the
// program, as its last install made it, does not use. The go command marks
// an entry it uses by setting its modification time, when that is more
// than an hour old: every entry is made older than that, the program is
// built, and the entries still old are removed. The caller holds the
// cache's lock.
func (c *SelfCompile) trimBuildCache(ctx context.Context, dir string) (int64, error) {
	old := time.Now().Add(-2 * time.Hour)
	var entries []string
	for _, sub := range subdirs(dir) {
		names, _ := os.ReadDir(sub)
		for _, e := range names {
			if e.Type().IsRegular() {
				p := filepath.Join(sub, e.Name())
				os.Chtimes(p, old, old)
				entries = append(entries, p)
			}
		}
	}
	c.logf("Building the program to find the build cache entries it uses")
	if _, err := c.run(ctx, Change{}, modeTrim); err != nil {
		return 0, fmt.Errorf("the build that finds the build cache entries in use failed, so none were removed: %w", err)
	}
	var freed int64
	for _, p := range entries {
		if fi, err := os.Stat(p); err == nil && !fi.ModTime().After(old) && os.Remove(p) == nil {
			freed += fi.Size()
		}
	}
	return forgetMerged(dir, freed), nil
}

// trimModules removes from a module cache the extracted source and zip
// files of the module versions that keep does not list ("path@version").
// The go.mod, .info and .ziphash files stay: they are small, and loading
// the module graph offline needs them.
func trimModules(cacheDir string, keep map[string]bool) int64 {
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
			if mv, err := modcache.Unescape(rel); err == nil && !keep[mv.String()] {
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
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".zip") {
			return nil
		}
		rel, _ := filepath.Rel(download, p)
		escPath, file, ok := strings.Cut(filepath.ToSlash(rel), "/@v/")
		if !ok {
			return nil
		}
		if mv, err := modcache.Unescape(escPath + "@" + strings.TrimSuffix(file, ".zip")); err == nil && !keep[mv.String()] {
			if fi, err := d.Info(); err == nil && os.Remove(p) == nil {
				freed += fi.Size()
			}
		}
		return nil
	})
	return freed
}
