package selfcompile

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
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

// restore lays the executable's bundles out for a build. The toolchain and
// the host's source are restored once per digest into the cache, and
// reused once they are checked; the modules and build cache entries are
// merged into the caches once per digest. The source of each install is a
// tree of hard links to the cached one, in the workdir, but for the files
// an install changes. Reading stops after the last part that is needed,
// so a repeat install decompresses nothing.
func (in *install) restore() error {
	done := in.stage("restore")
	b := in.bin
	r := &restored{
		gocache: filepath.Join(in.cache, buildDir),
		hostDir: hostDir(in.cache, b.sharedM.MainPackage),
		goroot:  toolchainDir(in.cache, b.toolchainM),
		src:     filepath.Join(in.workdir, "src"),
	}
	r.modcache = filepath.Join(r.hostDir, "mod")
	if p, ok := b.sharedM.Part(bundle.PartSource); ok {
		r.cachedSrc = filepath.Join(r.hostDir, "src-"+p.Digest[:24])
	}
	r.module = filepath.Join(r.src, filepath.FromSlash(cmp.Or(b.sharedM.ModuleDir, ".")))
	in.r = r
	jobs, err := in.restoreJobs()
	if err != nil {
		return err
	}
	var total int64
	for _, j := range jobs {
		total += j.size()
	}
	if err := ensureSpace(in.cache, uint64(total), "the toolchain, the caches and the workdir"); err != nil {
		return err
	}
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
	failpoint(in.ctx, "restored")
	in.g = newGoTool(r, b.build, in.workdir)
	if b.sharedM.SkipSource {
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
		if rel == indexFile {
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
	bundle *io.SectionReader
	m      *bundle.Manifest
	dest   map[string]string // part name -> its directory, or its marker for merged parts
}

// restoreJobs lists what an install must restore: the source always, and
// what the caches lack.
func (in *install) restoreJobs() ([]restoreJob, error) {
	b, r := in.bin, in.r
	if _, ok := b.sharedM.Part(bundle.PartSource); ok == b.sharedM.SkipSource {
		return nil, &bundle.CorruptError{Reason: "the shared bundle's parts do not match its manifest"}
	}
	var jobs []restoreJob
	for _, j := range []restoreJob{{bundle: b.shared, m: b.sharedM}, {bundle: b.toolchain, m: b.toolchainM}} {
		j.dest = map[string]string{}
		for _, p := range j.m.Parts {
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
				if m := marker(dir, p); !exists(m) {
					j.dest[p.Name] = m
				}
			case bundle.PartToolchain:
				if !in.cached(r.goroot, p) {
					j.dest[p.Name] = r.goroot
				}
			default:
				return nil, &bundle.CorruptError{Reason: fmt.Sprintf("unknown part %q in the %s bundle", p.Name, j.m.Kind)}
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
	if !isDir(dir) {
		return false
	}
	err := verifyCached(dir, p)
	if err != nil {
		in.c.logf("Restoring the %s again: the cached copy at %s %v", p.Name, dir, err)
		discard(dir)
	}
	return err == nil
}

// size is the bytes a job writes.
func (j restoreJob) size() int64 {
	var n int64
	for _, p := range j.m.Parts {
		if _, ok := j.dest[p.Name]; ok {
			n += p.Size
		}
	}
	return n
}

// run restores the job's parts in the order the bundle stores them,
// skipping the others, and stops reading after the last one it needs.
func (j restoreJob) run(in *install, progress func(int64)) error {
	br, err := bundle.Open(io.NewSectionReader(j.bundle, 0, j.bundle.Size()))
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
		failpoint(in.ctx, "restore-"+p.Name)
		files := 0
		each := func(n int64) {
			if files++; files%25 == 0 {
				failpoint(in.ctx, "restore-"+p.Name, files)
			}
			progress(n)
		}
		if err := restorePart(br, p.Name, dest, each); err != nil {
			return err
		}
		in.c.logf("Restored %s: %d files, %.1f MB in %v", p.Name, p.Files, float64(p.Size)/1e6, time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// restorePart restores the next part of br to dest: the source and the
// toolchain into a cache directory of their own, the others merged into a
// cache.
func restorePart(br *bundle.Reader, name, dest string, progress func(int64)) error {
	switch name {
	case bundle.PartSource, bundle.PartToolchain:
		return restoreShared(br, name, dest, progress)
	}
	return restoreMerged(br, name, filepath.Dir(dest), dest, progress)
}

// markerPrefix starts the names of the files that record that a part was
// merged into a cache.
const markerPrefix = ".selfcompile-"

// marker names the file that records that part p was merged into a cache.
func marker(cacheDir string, p bundle.Part) string {
	return filepath.Join(cacheDir, markerPrefix+p.Name+"-"+p.Digest[:24])
}

// tmpPrefix names the directories a part is restored into before it is
// verified and moved into the cache.
const tmpPrefix = ".tmp-"

// restoreShared restores a part into the cache directory final: into a
// private temporary directory first, renamed into place only once the
// part's digest has been checked, so the cache never holds a half-written
// or unverified tree.
func restoreShared(br *bundle.Reader, name, final string, progress func(int64)) error {
	tmp, release, err := partTemp(filepath.Dir(final))
	if err != nil {
		return err
	}
	defer release()
	if err := br.Restore(name, tmp, progress); err != nil {
		removeTree(tmp)
		return err
	}
	if err := writeIndex(tmp); err != nil {
		removeTree(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		removeTree(tmp)
		if isDir(final) { // another installer restored it first
			return nil
		}
		return err
	}
	return nil
}

// partTemp creates a locked temporary directory in parent, after removing
// those that killed installs left.
func partTemp(parent string) (string, func(), error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	removeStale(parent, tmpPrefix)
	return lockedTempDir(parent, tmpPrefix)
}

// restoreMerged restores a part into a cache that other installs add to
// as well: modules into the host's module cache, which also keeps what
// plugins bring, or prebuilt entries into the go build cache. The part
// goes into a temporary directory first; once verified, each file is moved
// into the cache, over any file there that differs: nothing is trusted
// because it exists. The marker records that the part was merged; a merge
// cut short leaves none, and the next install does it again.
func restoreMerged(br *bundle.Reader, part, cacheDir, marker string, progress func(int64)) error {
	tmp, release, err := partTemp(cacheDir)
	if err != nil {
		return err
	}
	defer release()
	defer removeTree(tmp)
	if err := br.Restore(part, tmp, progress); err != nil {
		return err
	}
	err = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		return mergeFile(p, filepath.Join(cacheDir, rel))
	})
	if err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o600)
}

// mergeFile moves the verified file src to dst, unless dst already has
// the same content. The go command makes module directories read-only;
// they are made writable for the move and read-only again.
func mergeFile(src, dst string) error {
	if sameContent(src, dst) {
		return nil
	}
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err := os.Rename(src, dst)
	if errors.Is(err, fs.ErrPermission) {
		if fi, serr := os.Stat(dir); serr == nil && os.Chmod(dir, fi.Mode().Perm()|0o200) == nil {
			err = os.Rename(src, dst)
			os.Chmod(dir, fi.Mode().Perm())
		}
	}
	return err
}

// sameContent reports whether the files a and b hold the same bytes.
func sameContent(a, b string) bool {
	fb, err := os.Stat(b)
	if err != nil || !fb.Mode().IsRegular() {
		return false
	}
	if fa, err := os.Stat(a); err != nil || fa.Size() != fb.Size() {
		return false
	}
	ha, _, err1 := bundle.HashFile(a)
	hb, _, err2 := bundle.HashFile(b)
	return err1 == nil && err2 == nil && bytes.Equal(ha, hb)
}

// indexFile, in a cached toolchain or source, records the size,
// modification time and mode of every file as restored, once the part's
// digest was checked.
const indexFile = ".selfcompile-index"

// index returns the index of the files under dir: a line per file, in
// lexical order. writeIndex and verifyCached both use it, so the two
// cannot drift.
func index(dir string, check func(rel string, fi fs.FileInfo) error) (string, int, error) {
	var b strings.Builder
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if rel == indexFile {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("has %s, which is not a regular file", rel)
		}
		if check != nil {
			if err := check(rel, fi); err != nil {
				return err
			}
		}
		fmt.Fprintf(&b, "%d %d %o %s\n", fi.Size(), fi.ModTime().UnixNano(), fi.Mode().Perm(), rel)
		n++
		return nil
	})
	return b.String(), n, err
}

// writeIndex records the files under dir in its index file.
func writeIndex(dir string) error {
	idx, _, err := index(dir, nil)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, indexFile), []byte(idx), 0o600)
}

// verifyCached checks a cached toolchain or source before it is used: the
// directory, its index and every file are the user's and not writable by
// others, and the files are exactly those of the index, with the size,
// time and mode they were restored with after their digest was checked.
// It reads no file content, so it costs a stat per file; any difference
// makes the caller restore the part again.
func verifyCached(dir string, p bundle.Part) error {
	for _, name := range []string{dir, filepath.Join(dir, indexFile)} {
		fi, err := os.Stat(name)
		if err != nil {
			return err
		}
		if !isPrivate(fi) {
			return fmt.Errorf("is not private to this user (%s has mode %v)", name, fi.Mode())
		}
	}
	want, err := os.ReadFile(filepath.Join(dir, indexFile))
	if err != nil {
		return fmt.Errorf("has no index: %w", err)
	}
	got, n, err := index(dir, func(rel string, fi fs.FileInfo) error {
		if !isPrivate(fi) {
			return fmt.Errorf("has %s, which is not private to this user", rel)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if got != string(want) || n != p.Files {
		return errors.New("was changed after it was restored")
	}
	return nil
}

// discard moves a bad cache directory out of the way and removes it.
func discard(dir string) {
	aside := fmt.Sprintf("%s.bad-%d", dir, time.Now().UnixNano())
	if os.Rename(dir, aside) == nil {
		dir = aside
	}
	removeTree(dir)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// fetchSource gets the host's module source through the module proxy, for
// bundles generated with --skip-source, at the version that Install names,
// or that the binary was built from, as its build info or (for a rebuilt
// binary) its record says.
func (in *install) fetchSource() error {
	done := in.stage("download")
	m, bi := in.bin.sharedM, in.bin.build
	version := in.bin.record.HostVersion
	if _, v, ok := strings.Cut(in.c.Install, "@"); ok {
		version = v
	} else if bi.Main.Path == m.MainModule && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	if version == "" {
		return fmt.Errorf("%w: the bundle was generated with --skip-source and this binary records no version of %s; set SelfCompile.Install to %s@VERSION",
			ErrNoSource, m.MainModule, m.MainPackage)
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
