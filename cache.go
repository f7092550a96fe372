package selfcompile

// The cache directory: what installs keep between them, how it is trusted,
// and how it is reported, trimmed and purged.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/cachetree"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/known"
	"github.com/shazow/go-selfcompile/internal/lockfile"
	"github.com/shazow/go-selfcompile/internal/modcache"
)

// The cache directory (CacheDir) holds, for every program of the user
// that uses this library:
//
//	toolchains/go1.26.8-<digest>/  a restored toolchain, shared by the programs that bundle it
//	build/                        the go build cache, shared: its entries are keyed by content
//	hosts/<main>-<hash>/mod/      a program's module cache
//	hosts/<main>-<hash>/src-<digest>/  its source, restored once per bundle
//	work/                         the workdirs of running installs
//	known/                        which executables' bundles were checked, by file identity
//	goplugins/<sha256>.so         the Go plugins BuildGoPlugin built
//	catalogs/                     the newest vendor catalogs verified, and their sequence numbers
//	installed/                    the plugin set the last change left at each executable path (Missing)
//
// catalogs/ is what protects against a rollback of a vendor's catalog (an
// older one served as new), and installed/ what brings plugins back after
// an upgrade of a program: TrimCache and PurgeCache leave them.
// It must belong to the user and be writable by no one else: it holds what
// is compiled into programs.

// Cache subdirectories.
const (
	toolchainsDir = "toolchains"
	buildDir      = "build"
	hostsDir      = "hosts"
	workDir       = "work"
	knownDir      = "known"
	goPluginsDir  = "goplugins"
	catalogsDir   = "catalogs"
	installedDir  = "installed"
	toolsDir      = "tools"   // per toolchain, the programs an install builds with it (internal/identity)
	checkedDir    = "checked" // by sha256, the executables whose bundle was checked (check.go)
	bundlesDir    = "bundles" // by digest, the bundle files that installs fetched (--bundle fetch)
	workPrefix    = "install-"
)

func workRoot(cache string) string { return filepath.Join(cache, workDir) }

// cacheDiskFree returns the free bytes of the disk that holds the cache
// (of its nearest existing parent before a first install), 0 if unknown.
// It only reads: the checks and the creation are cacheRoot's.
func (c *SelfCompile) cacheDiskFree() int64 {
	dir := c.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return 0
		}
		dir = base
	}
	for {
		if free, err := fsutil.DiskFree(dir); err == nil {
			return int64(free)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return 0
		}
		dir = parent
	}
}

// cacheRoot returns CacheDir, created private to the user, after checking
// that no one else can write it and that this user can.
func (c *SelfCompile) cacheRoot() (string, error) {
	if err := checkUnprivileged(); err != nil {
		return "", err
	}
	dir := c.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("%w: no cache directory (set SelfCompile.CacheDir): %v", ErrUnsafeCache, err)
		}
		dir = filepath.Join(base, "go-selfcompile")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("%w: creating %s: %v", ErrUnsafeCache, dir, err)
	}
	if err := fsutil.CheckPrivateDir(dir); err != nil {
		return "", fmt.Errorf("%w: %v (remove it, or set SelfCompile.CacheDir to a directory of your own)", ErrUnsafeCache, err)
	}
	return dir, checkWritable(dir)
}

// checkWritable fails with ErrUnsafeCache unless this user may write the
// directory dir of the cache, which it creates.
func checkWritable(dir string) error {
	if err := checkWritableDir(dir); err != nil {
		return fmt.Errorf("%w: %s cannot be written: %v (fix its permissions, or set SelfCompile.CacheDir)", ErrUnsafeCache, dir, err)
	}
	return nil
}

// checkWritableDir creates dir if needed and a file in it, and removes the
// file.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".selfcompile-check-")
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(f.Name())
}

// CacheKind is the kind of a CacheEntry.
type CacheKind string

// The kinds of what the cache holds.
const (
	CacheToolchain CacheKind = "toolchain" // a restored Go toolchain, shared by the programs that bundle it
	CacheBuild     CacheKind = "build"     // the go build cache, shared
	CacheModules   CacheKind = "modules"   // a program's module cache
	CacheSource    CacheKind = "source"    // a program's source
	CacheWork      CacheKind = "work"      // what killed installs left
	CacheGoPlugins CacheKind = "goplugins" // the Go plugins BuildGoPlugin built, for package live
	CacheCatalogs  CacheKind = "catalogs"  // the newest vendor catalogs verified: kept by a purge, against rollbacks
	CacheBundles   CacheKind = "bundles"   // the bundle files that installs fetched from vendors, by digest
)

// CacheEntry is one thing the library keeps between installs under
// CacheDir.
type CacheEntry struct {
	Kind CacheKind
	// Path is the entry's directory.
	Path string
	// Size is the bytes of its files.
	Size int64
}

// CacheUsage reports what the library keeps under CacheDir.
func (c *SelfCompile) CacheUsage() ([]CacheEntry, error) {
	root, err := c.cacheRoot()
	if err != nil {
		return nil, apiErr(err)
	}
	var entries []CacheEntry
	add := func(kind CacheKind, dir string) {
		if fsutil.IsDir(dir) {
			entries = append(entries, CacheEntry{Kind: kind, Path: dir, Size: fsutil.DirSize(dir)})
		}
	}
	for _, d := range subdirs(filepath.Join(root, toolchainsDir)) {
		add(CacheToolchain, d)
	}
	for _, d := range subdirs(filepath.Join(root, hostsDir)) {
		add(CacheModules, filepath.Join(d, hostModules))
		srcs, _ := filepath.Glob(filepath.Join(d, sourcePrefix+"*"))
		for _, s := range srcs {
			add(CacheSource, s)
		}
	}
	add(CacheBuild, filepath.Join(root, buildDir))
	add(CacheWork, workRoot(root))
	add(CacheGoPlugins, filepath.Join(root, goPluginsDir))
	add(CacheCatalogs, filepath.Join(root, catalogsDir))
	add(CacheBundles, filepath.Join(root, bundlesDir))
	slices.SortFunc(entries, func(a, b CacheEntry) int { return strings.Compare(a.Path, b.Path) })
	return entries, nil
}

// TrimCache removes what the current executable (Target) does not need
// for its next install, and returns the bytes freed: toolchains it does
// not bundle, other programs' caches, its own source of other versions,
// the bundle files fetched for other builds,
// the modules of its own cache that its build list no longer names, the
// build cache entries that a build of its program, as its last install
// made it, does not use, what killed installs left, and the Go plugins
// built for live loads (a running program keeps those it opened; a later
// load builds them again). To know those
// entries, it builds the program (all from the cache, offline, into its
// workdir). Other programs of the user restore or compile what they need
// again at their next install. It fails with ErrLocked while an install
// that uses the cache runs.
func (c *SelfCompile) TrimCache(ctx context.Context) (freed int64, err error) {
	freed, err = c.trimCache(ctx)
	return freed, apiErr(err)
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
	bin, err := openExe(target, known.Store{})
	if err != nil {
		return 0, err
	}
	defer bin.Close()
	keepToolchain := toolchainDir(root, bin.Toolchain.Manifest)
	for _, d := range subdirs(filepath.Join(root, toolchainsDir)) {
		if d != keepToolchain {
			freed += fsutil.RemoveMeasured(d)
		}
	}
	for _, d := range subdirs(filepath.Join(root, toolsDir)) {
		if filepath.Base(d) != filepath.Base(keepToolchain) {
			freed += fsutil.RemoveMeasured(d)
		}
	}
	host := hostDir(root, bin.Shared.Manifest.MainPackage)
	for _, d := range subdirs(filepath.Join(root, hostsDir)) {
		if d != host {
			freed += fsutil.RemoveMeasured(d)
		}
	}
	srcs, _ := filepath.Glob(filepath.Join(host, sourcePrefix+"*"))
	for _, s := range srcs {
		if p, ok := bin.Shared.Manifest.Part(bundle.PartSource); !ok || s != hostSource(host, p.Digest) {
			freed += fsutil.RemoveMeasured(s)
		}
	}
	fetched, _ := filepath.Glob(filepath.Join(root, bundlesDir, "*"))
	for _, f := range fetched {
		if f != bin.SidePath(filepath.Join(root, bundlesDir)) {
			freed += fsutil.RemoveMeasured(f)
		}
	}
	lockfile.RemoveStale(workRoot(root), workPrefix)
	freed += fsutil.RemoveMeasured(filepath.Join(root, goPluginsDir))
	// The build first: its restore would merge again the modules trimmed.
	n, err := c.trimBuildCache(ctx, filepath.Join(root, buildDir))
	if err == nil { // the other programs' build cache entries are gone
		forgetBuilds(root, filepath.Base(keepToolchain), bin.Shared.Manifest.MainPackage)
	}
	mod := filepath.Join(host, hostModules)
	return freed + n + forgetMerged(mod, modcache.Trim(mod, keptModules(bin)), moduleMarkers(mod, bin)...), err
}

// forgetMerged forgets the parts merged into the cache dir, but for the
// markers keep, once files were removed from it: the next install that
// needs a part merges it again.
func forgetMerged(dir string, freed int64, keep ...string) int64 {
	if freed > 0 {
		cachetree.ForgetMerged(dir, keep...)
	}
	return freed
}

// moduleMarkers returns the markers, in the module cache dir, of the
// module parts of bin's bundles. A trim keeps every module they hold
// (keptModules), so they stay merged: forgetting them made the next install
// merge the whole of the program's modules again.
func moduleMarkers(dir string, bin *exe.File) []string {
	var keep []string
	for _, b := range []*exe.Bundle{bin.Shared, bin.Plugins} {
		if b == nil {
			continue
		}
		if p, ok := b.Manifest.Part(bundle.PartModules); ok {
			keep = append(keep, cachetree.Marker(dir, p))
		}
	}
	return keep
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
	if err := c.trimBuild(ctx); err != nil {
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

// PurgeCache removes everything the library keeps under CacheDir but the
// cache's lock file, the record of the vendor catalogs verified
// (catalogs/, a few kilobytes), which keeps an older catalog from being
// taken for new, and the plugin sets that Missing compares with
// (installed/, as small). The next install restores the toolchain and compiles
// from scratch. It fails with ErrLocked while an install that uses the
// cache runs. Canceling ctx stops it between the cache's directories.
func (c *SelfCompile) PurgeCache(ctx context.Context) error { return apiErr(c.purgeCache(ctx)) }

func (c *SelfCompile) purgeCache(ctx context.Context) error {
	root, err := c.cacheRoot()
	if err != nil {
		return err
	}
	release, err := lockCache(ctx, root, true, c.logf)
	if err != nil {
		return err
	}
	defer release()
	entries, err := os.ReadDir(root)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.Name() != cacheLockFile && e.Name() != catalogsDir && e.Name() != installedDir { // the lock is held until the purge is done
			if err := fsutil.RemoveAll(filepath.Join(root, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// subdirs returns the directories in dir whose names do not start with a
// dot.
func subdirs(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			out = append(out, filepath.Join(dir, e.Name()))
		}
	}
	return out
}

// cacheLockFile is the lock of a cache directory, in it.
const cacheLockFile = ".lock"

// lockCache takes the lock of the cache at root: shared for an install,
// which waits while TrimCache or PurgeCache holds it, saying so; exclusive
// for those, which fail at once with ErrLocked while an install holds it.
func lockCache(ctx context.Context, root string, exclusive bool, logf func(string, ...any)) (release func(), err error) {
	l, err := lockfile.Open(ctx, filepath.Join(root, cacheLockFile), exclusive, !exclusive, func() {
		logf("Waiting for the trim of the cache %s to finish", root)
	})
	switch {
	case err == lockfile.ErrBusy:
		return nil, fmt.Errorf("%w: an install, or another trim, uses the cache %s; try again when it is done", ErrLocked, root)
	case err != nil:
		return nil, fmt.Errorf("%w: %v", ErrUnsafeCache, err)
	}
	if exclusive {
		if err := checkOldInstalls(root); err != nil {
			l.Release()
			return nil, err
		}
	}
	return l.Release, nil
}

// checkOldInstalls fails with ErrLocked while an install by an earlier
// version of the library, which takes no cache lock, works in the cache at
// root: it holds the lock file in its workdir.
func checkOldInstalls(root string) error {
	locks, _ := filepath.Glob(filepath.Join(workRoot(root), lockfile.GlobEscape(workPrefix)+"*", lockfile.OldLockFile))
	for _, lock := range locks {
		if lockfile.Held(lock) {
			return fmt.Errorf("%w: an install by an earlier version of the library works in %s; try again when it is done", ErrLocked, filepath.Dir(lock))
		}
	}
	return nil
}
