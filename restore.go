package selfcompile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"
)

// restored is a bundle laid out on disk, ready to build with.
type restored struct {
	m        Manifest
	goroot   string // the bundled toolchain, shared by every host with the same one
	gocache  string // the go build cache, shared: its entries are keyed by content
	hostDir  string // module cache and GOPATH of this host program
	modcache string // the host's module cache, holding the bundled modules
	src      string // the host's module root, in the workdir
}

// restore lays the bundle out for a build. The toolchain and the module
// proxy are restored once per content digest into the cache and reused; the
// host source goes into the workdir. Parts already cached are skipped, and
// reading stops after the last part that is needed, so a repeat install
// decompresses only the host source.
func (c *SelfCompile) restore(ctx context.Context, bundle, workdir, cache string) (*restored, error) {
	// The decoder's window is most of the heap while restoring; without a
	// limit the garbage collector lets the heap grow to twice what is live,
	// and the installer's peak resident set past 64 MB. The previous limit
	// comes back when the restore is done.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(restoreMemoryLimit))
	br, err := openBundle(&releasingReader{s: bundle})
	if err != nil {
		return nil, err
	}
	defer br.Close()
	m := br.Manifest
	if m.GOOS != runtime.GOOS || m.GOARCH != runtime.GOARCH {
		return nil, fmt.Errorf("%w: its toolchain runs on %s/%s and this is %s/%s; generate the bundle with a go for %[4]s/%[5]s",
			ErrPlatform, m.GOOS, m.GOARCH, runtime.GOOS, runtime.GOARCH)
	}
	r := &restored{m: m, src: filepath.Join(workdir, "src"), hostDir: filepath.Join(cache, "hosts", hostKey(m.MainPackage))}
	r.modcache = filepath.Join(r.hostDir, "mod")
	r.gocache = filepath.Join(cache, "build")
	dest := make([]string, len(m.Parts)) // where each part goes; its presence means it is there
	for i, p := range m.Parts {
		if len(p.Digest) < 24 {
			return nil, corrupt("part %q has no digest", p.Name)
		}
		switch p.Name {
		case partSource:
			dest[i] = r.src
		case partModules:
			dest[i] = filepath.Join(r.modcache, ".selfcompile-"+p.Digest[:24])
		case partCache:
			dest[i] = filepath.Join(r.gocache, ".selfcompile-"+p.Digest[:24])
		case partToolchain:
			r.goroot = filepath.Join(cache, "toolchains", m.GoVersion+"-"+p.Digest[:24])
			dest[i] = r.goroot
		default:
			return nil, corrupt("unknown part %q", p.Name)
		}
	}
	if _, hasSource := m.Part(partSource); r.goroot == "" || hasSource == m.SkipSource {
		return nil, corrupt("parts %v do not match the manifest", partNames(m.Parts))
	}
	need := make([]bool, len(m.Parts))
	last := -1
	for i, p := range m.Parts {
		_, err := os.Stat(dest[i])
		if err == nil && p.Name == partToolchain {
			if err = verifyCached(dest[i], p); err != nil {
				c.logf("Restoring the toolchain again: the cached copy at %s %v", dest[i], err)
				discard(dest[i])
			}
		}
		if p.Name == partSource || err != nil {
			need[i], last = true, i
		}
	}
	// Room for what will be written, checked before anything is.
	var cacheNeed, workNeed uint64
	for i, p := range m.Parts {
		switch {
		case p.Name == partSource:
			workNeed += uint64(p.Size)
		case need[i]:
			cacheNeed += uint64(p.Size)
		}
	}
	workNeed += uint64(len(bundle)) // the bundle is written again into the main package
	if err := ensureSpace(cache, cacheNeed, "the toolchain and build cache"); err != nil {
		return nil, err
	}
	if err := ensureSpace(workdir, workNeed, "the workdir"); err != nil {
		return nil, err
	}
	progress := c.byteProgress(int64(cacheNeed + workNeed - uint64(len(bundle))))
	for i, p := range m.Parts[:last+1] {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !need[i] {
			if err := br.skipPart(p.Name); err != nil {
				return nil, err
			}
			continue
		}
		start := time.Now()
		switch p.Name {
		case partSource:
			if err := os.MkdirAll(r.src, 0o755); err != nil {
				return nil, err
			}
			err = br.restorePart(p.Name, r.src, progress)
		case partModules:
			err = restoreMerged(br, p.Name, r.modcache, dest[i], progress)
		case partCache:
			err = restoreMerged(br, p.Name, r.gocache, dest[i], progress)
		default:
			err = restoreShared(br, p.Name, dest[i], progress)
		}
		if err != nil {
			return nil, err
		}
		c.logf("Restored %s: %d files, %.1f MB in %v", p.Name, p.Files, float64(p.Size)/1e6, time.Since(start).Round(time.Millisecond))
	}
	if last == len(m.Parts)-1 {
		if err := br.end(); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// restoreShared restores a part into the cache directory final: into a
// private temporary directory first, renamed into place only once the
// part's digest has been checked, so the cache never holds a half-written
// or unverified tree.
func restoreShared(br *bundleReader, name, final string, progress func(int64)) error {
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return err
	}
	removeStale(filepath.Dir(final), tmpPrefix)
	tmp, release, err := lockedTempDir(filepath.Dir(final), tmpPrefix)
	if err != nil {
		return err
	}
	defer release()
	if err := br.restorePart(name, tmp, progress); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	os.Remove(filepath.Join(tmp, lockFileName))
	if err := writeIndex(tmp); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		os.RemoveAll(tmp)
		if isDir(final) { // another installer restored it first
			return nil
		}
		return err
	}
	return nil
}

// restoreMerged restores a part into a cache that other installs add to
// as well: the bundled modules into the host's module cache (which also
// keeps the modules that plugins bring), or prebuilt entries into the go
// build cache. The part goes into a temporary directory first, then, once
// verified, is moved file by file to where the cache lacks it. The marker
// file records that it is done; a merge that was cut short leaves no
// marker and is completed by the next install.
func restoreMerged(br *bundleReader, part, cacheDir, marker string, progress func(int64)) error {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return err
	}
	removeStale(filepath.Dir(cacheDir), tmpPrefix)
	tmp, release, err := lockedTempDir(filepath.Dir(cacheDir), tmpPrefix)
	if err != nil {
		return err
	}
	defer release()
	defer os.RemoveAll(tmp)
	if err := br.restorePart(part, tmp, progress); err != nil {
		return err
	}
	os.Remove(filepath.Join(tmp, lockFileName))
	err = filepath.WalkDir(tmp, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(tmp, p)
		dst := filepath.Join(cacheDir, rel)
		if _, err := os.Lstat(dst); err == nil {
			return nil
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.Rename(p, dst)
	})
	if err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o644)
}

// restoreMemoryLimit is the soft limit on the Go heap during a restore: the
// 32 MB decoder window and some room for the rest.
const restoreMemoryLimit = 48 << 20

// tmpPrefix names the directories a part is restored into before it is
// verified and moved into the cache.
const tmpPrefix = ".tmp-"

// indexFile, in a cached part, records the size, modification time and
// mode of every file as restored, once the part's digest was checked.
const indexFile = ".selfcompile-index"

// writeIndex records the files under dir in its index file.
func writeIndex(dir string) error {
	var b strings.Builder
	err := walkFiles(dir, func(rel string, fi fs.FileInfo) error {
		fmt.Fprintf(&b, "%d %d %o %s\n", fi.Size(), fi.ModTime().UnixNano(), fi.Mode().Perm(), rel)
		return nil
	})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, indexFile), []byte(b.String()), 0o600)
}

// verifyCached checks a cached part before it is used: the directory, its
// index and every file are the user's and not writable by others, and the
// files are exactly those of the index, with the size, time and mode they
// were restored with after their digest was checked. It reads no file
// content, so it costs a stat per file; any difference makes the caller
// restore the part again.
func verifyCached(dir string, p Part) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if !isPrivate(fi) {
		return fmt.Errorf("is not private to this user (mode %v)", fi.Mode())
	}
	index, err := os.ReadFile(filepath.Join(dir, indexFile))
	if err != nil {
		return fmt.Errorf("has no index: %w", err)
	}
	if ifi, err := os.Stat(filepath.Join(dir, indexFile)); err != nil || !isPrivate(ifi) {
		return errors.New("has an index that is not private to this user")
	}
	var b strings.Builder
	n := 0
	err = walkFiles(dir, func(rel string, fi fs.FileInfo) error {
		if !isPrivate(fi) {
			return fmt.Errorf("has %s, which is not private to this user", rel)
		}
		fmt.Fprintf(&b, "%d %d %o %s\n", fi.Size(), fi.ModTime().UnixNano(), fi.Mode().Perm(), rel)
		n++
		return nil
	})
	if err != nil {
		return err
	}
	if b.String() != string(index) || n != p.Files {
		return errors.New("was changed after it was restored")
	}
	return nil
}

// walkFiles calls f for every regular file under dir but the index, in
// lexical order, with its slash-separated relative name. Anything else
// but a directory is an error.
func walkFiles(dir string, f func(rel string, fi fs.FileInfo) error) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return nil
		}
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
		return f(rel, fi)
	})
}

// discard moves a bad cache directory out of the way and removes it.
func discard(dir string) {
	aside := dir + ".bad-" + shortHash(time.Now().String())
	if os.Rename(dir, aside) == nil {
		dir = aside
	}
	makeTreeWritable(dir)
	os.RemoveAll(dir)
}

// makeTreeWritable lets RemoveAll delete a tree with read-only directories.
func makeTreeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o700)
		}
		return nil
	})
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

func partNames(parts []Part) []string {
	var s []string
	for _, p := range parts {
		s = append(s, p.Name)
	}
	return s
}

// copyTree copies the regular files under src into dst, writable by the
// user (the module cache is read-only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return errors.New(p + ": not a regular file")
		}
		return copyToNew(p, target)
	})
}

// copyToNew copies the file src to dst, creating dst's directory, with a
// mode the user may write (source trees come from the read-only module
// cache).
func copyToNew(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
