package selfcompile

// The restore stage: the executable's bundles laid out for a build, the
// toolchain and the host's source from the cache when they are there.

import (
	"cmp"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/cachetree"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/fetch"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/modcache"
	"github.com/shazow/go-selfcompile/internal/stub"
	"github.com/shazow/go-selfcompile/internal/toolchain"
)

// restored is a bundle laid out on disk, ready to build with.
type restored struct {
	goroot    string // the toolchain, shared by every host that bundles it
	gocache   string // the go build cache, shared: its entries are keyed by content
	hostDir   string // this host program's module cache, source and GOPATH
	modcache  string
	cachedSrc string // the source part, restored once per digest like the toolchain
	src       string // the source for this install, in the workdir: links to cachedSrc
	module    string // the host module's root, in src
}

// toolchainDir is the cache directory of the toolchain that manifest m
// carries: its Go version and the digest of its toolchain part.
func toolchainDir(cache string, m *bundle.Manifest) string {
	p, _ := m.ToolchainPart()
	return filepath.Join(cache, toolchainsDir, m.GoVersion+"-"+p.Digest[:24])
}

// hostDir names a host program's cache directory: the last element of its
// main package path and a short hash of the whole path.
func hostDir(cache, mainPkg string) string {
	h := sha256.Sum256([]byte(mainPkg))
	return filepath.Join(cache, hostsDir, filepath.Base(mainPkg)+fmt.Sprintf("-%x", h[:4]))
}

// What a host's cache directory holds: its module cache (hostModules),
// its GOPATH (hostGopath), and the host's source, per digest of the
// bundle's source part (hostSource; sourcePrefix starts their names).
const (
	hostModules  = "mod"
	hostGopath   = "path"
	sourcePrefix = "src-"
)

// hostSource is the directory of a host's source with digest, in its
// cache directory host.
func hostSource(host, digest string) string {
	return filepath.Join(host, sourcePrefix+digest[:24])
}

// layout is what the restore stage returns: where the executable's
// bundles were laid out, the go command restored with them, the host's
// go.mod, and what restore wrote. The helpers that need the restored
// toolchain hang off it, and reach the run through it.
type layout struct {
	*run
	dirs           *restored // where the bundles were laid out
	g              gocmd.Go  // the restored go command
	gomod          *goMod    // the restored host's go.mod, between the steps that edit it
	written        int64     // bytes the restore and download stages wrote
	fetched        string    // the host version whose source fetchSource fetched, "" for none
	bundlesWritten bool      // whether the bundles are in the source's bundle package
	meter          *buildMeter
}

// restore lays the executable's bundles out for a build and returns the
// layout. The toolchain and the host's source are restored once per
// digest into the cache, and reused once they are checked; the modules and
// build cache entries are merged into the caches once per digest. The
// source of each run is a tree of hard links to the cached one, in the
// workdir, but for the files a run changes. Reading stops after the last
// part that is needed, so a repeat install decompresses nothing. replacing
// says that the run replaces the executable: the disk check counts the new
// binary and the backup.
func (r *run) restore(ctx context.Context, replacing bool) (*layout, error) {
	l := &layout{run: r, dirs: r.restoredDirs(), meter: &buildMeter{}}
	if tm := r.bin.Toolchain.Manifest.Module; tm != nil {
		if err := l.fetchToolchain(ctx, tm, replacing); err != nil {
			return nil, err
		}
	}
	done := r.stage(StageRestore)
	side := exe.SideOptions{Known: r.known(), Dir: filepath.Join(r.cache, bundlesDir), Offline: offline(), Logf: r.c.logf}
	if n := r.bin.SideToFetch(side.Dir); n > 0 {
		if err := r.checkSpace(n, replacing); err != nil {
			return nil, err
		}
	}
	if err := r.bin.OpenSide(ctx, side); err != nil {
		return nil, fetchError(err, side.Dir)
	}
	jobs, err := l.restoreJobs()
	if err != nil {
		return nil, err
	}
	var total int64
	for _, j := range jobs {
		total += j.size()
	}
	if err := r.checkSpace(total, replacing); err != nil {
		return nil, err
	}
	l.written += total
	progress := r.byteProgress(total)
	for _, j := range jobs {
		if err := j.run(ctx, l, progress); err != nil {
			return nil, err
		}
	}
	if d := l.dirs; d.cachedSrc != "" {
		if err := linkTree(d.cachedSrc, d.src, d.module); err != nil {
			return nil, err
		}
	}
	done()
	failpoint.Hit(ctx, "restored")
	l.g = newGoTool(l.dirs, r.bin.Build, r.workdir)
	l.gomod = &goMod{path: filepath.Join(l.dirs.module, "go.mod")}
	if r.bin.Shared.Manifest.SkipSource {
		if err := l.fetchSource(ctx); err != nil {
			return nil, err
		}
	}
	if r.bin.Shared.Manifest.FetchModules {
		return l, l.downloadModules(ctx)
	}
	return l, nil
}

// restoredDirs returns where the run lays the executable's bundles out.
func (r *run) restoredDirs() *restored {
	shared := r.bin.Shared.Manifest
	d := &restored{
		gocache: filepath.Join(r.cache, buildDir),
		hostDir: hostDir(r.cache, shared.MainPackage),
		goroot:  toolchainDir(r.cache, r.bin.Toolchain.Manifest),
		src:     filepath.Join(r.workdir, "src"),
	}
	d.modcache = filepath.Join(d.hostDir, hostModules)
	if p, ok := shared.Part(bundle.PartSource); ok {
		d.cachedSrc = hostSource(d.hostDir, p.Digest)
	}
	d.module = filepath.Join(d.src, filepath.FromSlash(cmp.Or(shared.ModuleDir, ".")))
	return d
}

// mainDir is the main package's directory in the restored source.
func (l *layout) mainDir() string {
	return filepath.Join(l.dirs.module, filepath.FromSlash(l.bin.Shared.Manifest.MainDir))
}

// hostRecord is the executable's record as the restored source has it:
// with the host version whose source fetchSource fetched.
func (l *layout) hostRecord() buildRecord {
	rec := l.rec
	if l.fetched != "" {
		rec.HostVersion = l.fetched
	}
	return rec
}

// linkTree makes dst a tree of hard links to the files of the cached tree
// src (copies where the file system has no hard links), but for the files
// of the host module at module that the go command writes in place: go.mod
// and go.sum are copies. An install writes nothing else in place: the files
// it writes are new ones (fsutil.WriteAtomic, fsutil.Copy).
func linkTree(src, dst, module string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if rel == cachetree.IndexFile {
			return nil
		}
		if filepath.Dir(target) == module && (d.Name() == "go.mod" || d.Name() == "go.sum") {
			return fsutil.CopyFile(p, target, 0o644)
		}
		if os.Link(p, target) == nil {
			return nil
		}
		return fsutil.CopyFile(p, target, 0o644)
	})
}

// restoreJob is a bundle, with where each of its parts that an install
// needs goes.
type restoreJob struct {
	bundle *exe.Bundle
	dest   map[string]string // part name -> its directory, or its marker for merged parts
}

// restoreJobs lists what an install must restore: the source always, and
// what the caches lack.
func (l *layout) restoreJobs() ([]restoreJob, error) {
	b, r := l.bin, l.dirs
	if _, ok := b.Shared.Manifest.Part(bundle.PartSource); ok == b.Shared.Manifest.SkipSource {
		return nil, &bundle.CorruptError{Reason: "the shared bundle's parts do not match its manifest"}
	}
	var jobs []restoreJob
	for _, bb := range []*exe.Bundle{b.Shared, b.Toolchain} {
		j := restoreJob{bundle: bb, dest: map[string]string{}}
		for _, p := range bb.Manifest.Parts {
			switch p.Name {
			case bundle.PartSource:
				if !l.cached(r.cachedSrc, p) {
					j.dest[p.Name] = r.cachedSrc
				}
			case bundle.PartModules, bundle.PartCache:
				dir := r.modcache
				if p.Name == bundle.PartCache {
					dir = r.gocache
				}
				if m := cachetree.Marker(dir, p); !fsutil.Exists(m) {
					j.dest[p.Name] = m
				}
			case bundle.PartToolchain:
				if !l.cached(r.goroot, p) {
					j.dest[p.Name] = r.goroot
				}
			default:
				return nil, &bundle.CorruptError{Reason: fmt.Sprintf("unknown part %q in the %s bundle", p.Name, bb.Manifest.Kind)}
			}
		}
		if len(j.dest) > 0 {
			jobs = append(jobs, j)
		}
	}
	return jobs, nil
}

// cached reports whether part p is in the cache at dir and unchanged; a
// changed copy is removed.
func (r *run) cached(dir string, p bundle.Part) bool {
	if !fsutil.IsDir(dir) {
		return false
	}
	err := cachetree.Verify(dir, p)
	if err != nil {
		r.c.logf("Restoring the %s again: the cached copy at %s %v", p.Name, dir, err)
		cachetree.Discard(dir)
	}
	return err == nil
}

// size is the bytes a job writes.
func (j restoreJob) size() int64 {
	var n int64
	for _, p := range j.bundle.Manifest.Parts {
		if _, ok := j.dest[p.Name]; ok {
			n += p.Size
		}
	}
	return n
}

// run restores the job's parts in the order the bundle stores them,
// skipping the others, and stops reading after the last one it needs.
func (j restoreJob) run(ctx context.Context, l *layout, progress func(int64)) error {
	br, err := bundle.Open(j.bundle.Reader())
	if err != nil {
		return err
	}
	defer br.Close()
	left := len(j.dest)
	for _, p := range br.Manifest.Parts {
		if left == 0 {
			break
		}
		dest, ok := j.dest[p.Name]
		if !ok {
			if err := br.Skip(p.Name); err != nil {
				return err
			}
			continue
		}
		left--
		start := time.Now()
		point := "restore-" + p.Name
		failpoint.Hit(ctx, point)
		files := 0
		each := func(n int64) {
			if files++; files%25 == 0 {
				failpoint.Hit(ctx, point, files)
			}
			progress(n)
		}
		if err := l.restorePart(br, p.Name, dest, each); err != nil {
			return diskError(err, dest)
		}
		l.c.logf("Restored %s: %d files, %.1f MB in %v", p.Name, p.Files, float64(p.Size)/1e6, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// restorePart restores the next part of br to dest: the source and the
// toolchain into a cache directory of their own, the others merged into a
// cache, the modules once checked against the host's go.sum, which the
// source part, before them, holds.
func (l *layout) restorePart(br *bundle.Reader, name, dest string, progress func(int64)) error {
	switch name {
	case bundle.PartSource, bundle.PartToolchain:
		return cachetree.Restore(br, name, dest, progress)
	case bundle.PartModules:
		rel, _ := filepath.Rel(l.dirs.src, l.dirs.module)
		sums, _ := os.ReadFile(filepath.Join(l.dirs.cachedSrc, rel, "go.sum")) // none with --skip-source
		return mergeModules(br, l.dirs.modcache, dest, sums, "shared", progress)
	}
	return cachetree.Merge(br, name, filepath.Dir(dest), dest, progress)
}

// mergeModules merges the next part of br, a module cache tree, into the
// module cache modcache, which other installs share, and writes marker;
// what the tree carries must match the go.sum lines sums first, else none
// of it enters the cache. kind names the bundle.
func mergeModules(br *bundle.Reader, modcache, marker string, sums []byte, kind string, progress func(int64)) error {
	s, err := cachetree.Stage(br, bundle.PartModules, modcache, progress)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := checkCarried(s.Dir, sums, kind); err != nil {
		return err
	}
	return s.Merge(marker)
}

// checkCarried checks the module files a bundle carries, restored at dir,
// against the go.sum lines it records.
func checkCarried(dir string, sums []byte, kind string) error {
	if err := modcache.CheckSums(dir, modcache.ParseSums(sums)); err != nil {
		return &bundle.CorruptError{Reason: fmt.Sprintf("the program's %s bundle carries module files that do not match the go.sum it records: %v; none of them entered the module cache", kind, err)}
	}
	return nil
}

// fetchSource gets the host's module source through the module proxy, for
// bundles generated with --skip-source, at the version that HostVersion
// names, or that the binary was built from, as its build info or (for a
// rebuilt binary) its record says, or that the vendor gave the generator
// (--host-version).
func (l *layout) fetchSource(ctx context.Context) error {
	done := l.stage(StageDownload)
	m := l.bin.Shared.Manifest
	version := hostVersion(l.c, l.bin, l.rec)
	if version == "" {
		return fmt.Errorf("%w: the bundle was generated with --skip-source and this binary records no version of %s; set SelfCompile.HostVersion, or generate with --host-version",
			ErrNoSource, m.MainModule)
	}
	l.c.logf("Fetching %s@%s", m.MainModule, version)
	g := l.g
	g.Dir = l.workdir
	var mod struct{ Dir, Error string }
	if err := g.JSON(ctx, &mod, "mod", "download", "-json", "--", m.MainModule+"@"+version); err != nil || mod.Dir == "" {
		return fmt.Errorf("%w: go mod download %s@%s: %v %s", ErrNoSource, m.MainModule, version, err, mod.Error)
	}
	if err := os.CopyFS(l.dirs.module, os.DirFS(mod.Dir)); err != nil { // writable copies of the read-only cache
		return err
	}
	l.fetched = version
	done()
	return nil
}

// fetchToolchain fetches the toolchain that the binary pins through the
// module proxy into the cache, unless the cache holds it unchanged: the
// golang.org/toolchain module, checked against its pinned h1: hash and
// pruned to the pinned tree (package internal/toolchain).
func (l *layout) fetchToolchain(ctx context.Context, tm *bundle.ToolchainModule, replacing bool) error {
	dir := l.dirs.goroot
	if l.cached(dir, tm.Part) {
		return nil
	}
	// The zip and the whole module, unpacked, besides the pruned tree.
	if err := l.checkSpace(4*tm.Part.Size, replacing); err != nil {
		return err
	}
	done := l.stage(StageDownload)
	m := l.bin.Toolchain.Manifest
	o := toolchain.Options{Proxy: userProxy(), GOOS: m.GOOS, GOARCH: m.GOARCH, Logf: l.c.logf}
	start := time.Now()
	if err := cachetree.Fill(dir, func(tmp string) error { return toolchain.Fetch(ctx, tm, tmp, o) }); err != nil {
		return fetchError(err, filepath.Dir(dir))
	}
	l.c.logf("Fetched the Go toolchain %s in %v", tm.Version, time.Since(start).Round(time.Millisecond))
	l.written += tm.Part.Size
	done()
	return nil
}

// downloadModules downloads the modules that building the host needs
// through the module proxy, for a binary that pins them by the go.sum of
// its source instead of carrying them, and checks each against it: the
// go command refuses a module that go.sum names with another hash, and
// this checks the module cache again, whatever GOSUMDB, GONOSUMDB,
// GOINSECURE or GOFLAGS say; then it removes their zips. A marker, named
// by the go.sum's digest, skips this once done.
func (l *layout) downloadModules(ctx context.Context) error {
	sums, err := os.ReadFile(filepath.Join(l.dirs.module, "go.sum"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	h := sha256.Sum256(sums)
	marker := cachetree.Marker(l.dirs.modcache, bundle.Part{Name: bundle.PartModules, Digest: fmt.Sprintf("%x", h)})
	if fsutil.Exists(marker) {
		return nil
	}
	done := l.stage(StageDownload)
	l.c.logf("Downloading the modules of %s through the module proxy", l.bin.Shared.Manifest.MainPackage)
	if err := l.listDeps(ctx); err != nil {
		err = fmt.Errorf("downloading the modules of %s through the module proxy (GOPROXY=%s): %w", l.bin.Shared.Manifest.MainPackage, toolchain.Redacted(cmp.Or(userProxy(), toolchain.DefaultProxy)), err)
		switch msg := err.Error(); {
		case strings.Contains(msg, "SECURITY ERROR") || strings.Contains(msg, "checksum mismatch"):
			fsutil.RemoveAll(l.dirs.modcache)
			return fmt.Errorf("%w: %w; the program's module cache was emptied: set GOPROXY to a proxy that serves the genuine modules", fetch.ErrMismatch, err)
		case fsutil.IsNoSpace(err) || strings.Contains(msg, "no space left on device"):
			return newSpaceError(l.dirs.modcache, err, "", true)
		case needsNetwork(msg):
			return &offlineError{err}
		}
		return err
	}
	if err := modcache.CheckSums(l.dirs.modcache, modcache.ParseSums(sums)); err != nil {
		fsutil.RemoveAll(l.dirs.modcache)
		return fmt.Errorf("%w: the module proxy served modules that do not match the go.sum the program pins: %v; the program's module cache was emptied", fetch.ErrMismatch, err)
	}
	// The zips, once checked and extracted, are what no build reads.
	l.c.logf("Removed the modules' zips, checked and extracted: %.1f MB", float64(modcache.TrimZips(l.dirs.modcache))/1e6)
	l.written += fsutil.DirSize(l.dirs.modcache)
	done()
	return os.WriteFile(marker, nil, 0o600)
}

// listDeps lists the packages of the host's main package, and so has the
// go command download the modules they are in; it returns their errors,
// but for the bundle package's, whose files are not written yet.
func (l *layout) listDeps(ctx context.Context) error {
	g := l.g
	g.Dir = l.mainDir()
	// -mod=readonly (over the library's GOFLAGS): a module that go.sum
	// does not pin is an error, not an entry the checksum database adds.
	out, err := g.Run(ctx, "list", "-mod=readonly", "-e", "-deps", "-f", "{{.ImportPath}}\t{{with .Error}}{{.Err}}{{end}}", "--", ".", stub.HookPath)
	if err != nil {
		return err
	}
	bundlePkg := stub.BundleImportPath(l.bin.Shared.Manifest.MainPackage)
	var errs []string
	for _, line := range strings.Split(string(out), "\n") {
		if pkg, msg, _ := strings.Cut(line, "\t"); msg != "" && pkg != bundlePkg {
			errs = append(errs, pkg+": "+msg)
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// fetchError makes a failure to fetch what the binary does not carry
// (its bundle file, or its pinned toolchain) match its cause as well:
// ErrNeedsNetwork for want of the network, ErrNoSpace for want of room in
// dir.
func fetchError(err error, dir string) error {
	switch {
	case fsutil.IsNoSpace(err):
		return newSpaceError(dir, err, "", true)
	case fetch.NeedsNetwork(err):
		return &offlineError{err}
	}
	return err
}

// diskError makes a write that failed for want of room an error that
// matches ErrNoSpace and names the disk.
func diskError(err error, dir string) error {
	if fsutil.IsNoSpace(err) {
		return newSpaceError(dir, err, "", true)
	}
	return err
}
