package selfcompile

// The restore stage: the executable's bundles laid out for a build, the
// toolchain and the host's source from the cache when they are there.

import (
	"cmp"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/cachetree"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/modcache"
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

func toolchainDir(cache string, m *bundle.Manifest) string {
	p, _ := m.Part(bundle.PartToolchain)
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

// restore lays the executable's bundles out for a build. The toolchain and
// the host's source are restored once per digest into the cache, and
// reused once they are checked; the modules and build cache entries are
// merged into the caches once per digest. The source of each install is a
// tree of hard links to the cached one, in the workdir, but for the files
// an install changes. Reading stops after the last part that is needed,
// so a repeat install decompresses nothing.
func (in *install) restore() error {
	done := in.stage(StageRestore)
	shared := in.bin.Shared.Manifest
	r := &restored{
		gocache: filepath.Join(in.cache, buildDir),
		hostDir: hostDir(in.cache, shared.MainPackage),
		goroot:  toolchainDir(in.cache, in.bin.Toolchain.Manifest),
		src:     filepath.Join(in.workdir, "src"),
	}
	r.modcache = filepath.Join(r.hostDir, hostModules)
	if p, ok := shared.Part(bundle.PartSource); ok {
		r.cachedSrc = hostSource(r.hostDir, p.Digest)
	}
	r.module = filepath.Join(r.src, filepath.FromSlash(cmp.Or(shared.ModuleDir, ".")))
	in.r = r
	side := exe.SideOptions{Known: in.known(), Dir: filepath.Join(in.cache, bundlesDir), Offline: offline(), Logf: in.c.logf}
	if err := in.bin.OpenSide(in.ctx, side); err != nil {
		return err
	}
	jobs, err := in.restoreJobs()
	if err != nil {
		return err
	}
	var total int64
	for _, j := range jobs {
		total += j.size()
	}
	if err := in.checkSpace(total); err != nil {
		return err
	}
	in.restored = total
	progress := in.byteProgress(total)
	for _, j := range jobs {
		if err := j.run(in, progress); err != nil {
			return err
		}
	}
	if r.cachedSrc != "" {
		if err := linkTree(r.cachedSrc, r.src, r.module); err != nil {
			return err
		}
	}
	done()
	failpoint.Hit(in.ctx, "restored")
	in.g = newGoTool(r, in.bin.Build, in.workdir)
	in.gomod = &goMod{path: filepath.Join(r.module, "go.mod")}
	if shared.SkipSource {
		return in.fetchSource()
	}
	return nil
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
func (in *install) restoreJobs() ([]restoreJob, error) {
	b, r := in.bin, in.r
	if _, ok := b.Shared.Manifest.Part(bundle.PartSource); ok == b.Shared.Manifest.SkipSource {
		return nil, &bundle.CorruptError{Reason: "the shared bundle's parts do not match its manifest"}
	}
	var jobs []restoreJob
	for _, bb := range []*exe.Bundle{b.Shared, b.Toolchain} {
		j := restoreJob{bundle: bb, dest: map[string]string{}}
		for _, p := range bb.Manifest.Parts {
			switch p.Name {
			case bundle.PartSource:
				if !in.cached(r.cachedSrc, p) {
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
				if !in.cached(r.goroot, p) {
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
func (in *install) cached(dir string, p bundle.Part) bool {
	if !fsutil.IsDir(dir) {
		return false
	}
	err := cachetree.Verify(dir, p)
	if err != nil {
		in.c.logf("Restoring the %s again: the cached copy at %s %v", p.Name, dir, err)
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
func (j restoreJob) run(in *install, progress func(int64)) error {
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
		failpoint.Hit(in.ctx, point)
		files := 0
		each := func(n int64) {
			if files++; files%25 == 0 {
				failpoint.Hit(in.ctx, point, files)
			}
			progress(n)
		}
		if err := in.restorePart(br, p.Name, dest, each); err != nil {
			return in.diskError(err, dest)
		}
		in.c.logf("Restored %s: %d files, %.1f MB in %v", p.Name, p.Files, float64(p.Size)/1e6, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// restorePart restores the next part of br to dest: the source and the
// toolchain into a cache directory of their own, the others merged into a
// cache, the modules once checked against the host's go.sum, which the
// source part, before them, holds.
func (in *install) restorePart(br *bundle.Reader, name, dest string, progress func(int64)) error {
	switch name {
	case bundle.PartSource, bundle.PartToolchain:
		return cachetree.Restore(br, name, dest, progress)
	case bundle.PartModules:
		rel, _ := filepath.Rel(in.r.src, in.r.module)
		sums, _ := os.ReadFile(filepath.Join(in.r.cachedSrc, rel, "go.sum")) // none with --skip-source
		return mergeModules(br, in.r.modcache, dest, sums, "shared", progress)
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
func (in *install) fetchSource() error {
	done := in.stage(StageDownload)
	m := in.bin.Shared.Manifest
	version := hostVersion(in.c, in.bin, in.rec)
	if version == "" {
		return fmt.Errorf("%w: the bundle was generated with --skip-source and this binary records no version of %s; set SelfCompile.HostVersion, or generate with --host-version",
			ErrNoSource, m.MainModule)
	}
	in.c.logf("Fetching %s@%s", m.MainModule, version)
	g := in.g
	g.Dir = in.workdir
	var mod struct{ Dir, Error string }
	if err := g.JSON(in.ctx, &mod, "mod", "download", "-json", "--", m.MainModule+"@"+version); err != nil || mod.Dir == "" {
		return fmt.Errorf("%w: go mod download %s@%s: %v %s", ErrNoSource, m.MainModule, version, err, mod.Error)
	}
	if err := os.CopyFS(in.r.module, os.DirFS(mod.Dir)); err != nil { // writable copies of the read-only cache
		return err
	}
	in.rec.HostVersion = version
	done()
	return nil
}

// diskError makes a write that failed for want of room an error that
// matches ErrNoSpace and names the disk.
func (in *install) diskError(err error, dir string) error {
	if fsutil.IsNoSpace(err) {
		return newSpaceError(dir, err, "", true)
	}
	return err
}
