// Package cachetree restores the parts of a bundle into the cache, where
// installs reuse them: a toolchain or a host's source into a directory of
// its own, restored once per digest and checked before each reuse; module
// files and build cache entries merged into a cache that other installs
// add to. Nothing in the cache is trusted because it exists: a tree is
// renamed into place only once its digest was checked, and a changed one
// is restored again.
package cachetree

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/lockfile"
)

// IndexFile, in a restored tree, records the size, modification time and
// mode of every file as restored, once the part's digest was checked.
const IndexFile = ".selfcompile-index"

// MarkerPrefix starts the names of the files that record that a part was
// merged into a cache.
const MarkerPrefix = ".selfcompile-"

// tmpPrefix names the directories a part is restored into before it is
// verified and moved into the cache.
const tmpPrefix = ".tmp-"

// Marker names the file that records that part p was merged into the
// cache at dir.
func Marker(dir string, p bundle.Part) string {
	return filepath.Join(dir, MarkerPrefix+p.Name+"-"+p.Digest[:24])
}

// Restore restores the next part of br, called name, into the cache
// directory final: into a private temporary directory first, renamed into
// place only once the part's digest has been checked, so the cache never
// holds a half-written or unverified tree. Another installer may restore
// the same part first; then its tree is kept.
func Restore(br *bundle.Reader, name, final string, progress func(int64)) error {
	return Fill(final, func(tmp string) error { return br.Restore(name, tmp, progress) })
}

// Fill makes the cache directory final a tree that fill writes into an
// empty private temporary directory and checks: renamed into place, with
// its index, only once fill returned nil. Another installer may make the
// same tree first; then its tree is kept.
func Fill(final string, fill func(tmp string) error) error {
	tmp, release, err := tempDir(filepath.Dir(final))
	if err != nil {
		return err
	}
	defer release()
	if err := fill(tmp); err != nil {
		fsutil.RemoveAll(tmp)
		return err
	}
	if err := errors.Join(backdate(tmp), writeIndex(tmp)); err != nil {
		fsutil.RemoveAll(tmp)
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		fsutil.RemoveAll(tmp)
		if fsutil.IsDir(final) { // another installer restored it first
			return nil
		}
		return err
	}
	return nil
}

// Restored is the modification time of the files of a restored toolchain,
// source or module: older than the go command's cutoff for its module
// index (2 seconds), so that the first go command that reads them indexes
// them, as it does the files of a module it downloaded. The go build
// cache's files keep their own times: the go command trims by them.
var Restored = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// backdate gives every file under dir the time Restored.
func backdate(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chtimes(p, Restored, Restored)
	})
}

// tempDir creates a locked temporary directory in parent, after removing
// those that killed installs left.
func tempDir(parent string) (string, func(), error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	lockfile.RemoveStale(parent, tmpPrefix)
	return lockfile.TempDir(parent, tmpPrefix)
}

// Merge restores the next part of br, called part, into a cache that other
// installs add to as well (a module cache, or the go build cache), and
// writes marker, which records that it was merged: Stage, then
// Staged.Merge.
func Merge(br *bundle.Reader, part, cacheDir, marker string, progress func(int64)) error {
	s, err := Stage(br, part, cacheDir, progress)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Merge(marker)
}

// Staged is a part restored, and verified against its digest, into a
// temporary directory of the cache it is to be merged into: what it holds
// can be checked before it enters the cache.
type Staged struct {
	Dir      string // the part's files
	cacheDir string
	release  func()
}

// Stage restores the next part of br, called part, into a temporary
// directory of cacheDir, to be merged into it.
func Stage(br *bundle.Reader, part, cacheDir string, progress func(int64)) (*Staged, error) {
	tmp, release, err := tempDir(cacheDir)
	if err != nil {
		return nil, err
	}
	s := &Staged{Dir: tmp, cacheDir: cacheDir, release: release}
	err = br.Restore(part, tmp, progress)
	if err == nil && part == bundle.PartModules {
		err = backdate(tmp)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Merge moves each file of the staged part into the cache, over any file
// there that differs (nothing is trusted because it exists), and writes
// marker. A merge cut short leaves no marker, and the next install does it
// again.
func (s *Staged) Merge(marker string) error {
	err := filepath.WalkDir(s.Dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(s.Dir, p)
		return mergeFile(p, filepath.Join(s.cacheDir, rel))
	})
	if err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o600)
}

// Close removes the temporary directory, with what Merge did not move.
func (s *Staged) Close() {
	fsutil.RemoveAll(s.Dir)
	s.release()
}

// ForgetMerged removes the markers of the parts merged into the cache
// dir, but for the markers keep, once files were removed from it: the next
// install that needs a part merges it again.
func ForgetMerged(dir string, keep ...string) {
	markers, _ := filepath.Glob(filepath.Join(dir, MarkerPrefix+"*"))
	for _, m := range markers {
		if !slices.Contains(keep, m) {
			os.Remove(m)
		}
	}
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

// index returns the index of the files under dir: a line per file, in
// lexical order. writeIndex and Verify both use it, so the two cannot
// drift. A stat per file is what checking a tree costs: the files are
// stat'ed on every core, in chunks, while the walk goes on.
func index(dir string, check func(rel string, fi fs.FileInfo) error) (string, int, error) {
	chunks, err := statTree(dir)
	if err != nil {
		return "", 0, err
	}
	var b strings.Builder
	n := 0
	for _, c := range chunks {
		for i, p := range c.paths {
			rel, _ := filepath.Rel(dir, p)
			rel = filepath.ToSlash(rel)
			fi := c.infos[i]
			switch {
			case rel == IndexFile:
				continue
			case c.errs[i] != nil:
				return "", 0, c.errs[i]
			case !fi.Mode().IsRegular():
				return "", 0, fmt.Errorf("has %s, which is not a regular file", rel)
			}
			if check != nil {
				if err := check(rel, fi); err != nil {
					return "", 0, err
				}
			}
			fmt.Fprintf(&b, "%d %d %o %s\n", fi.Size(), fi.ModTime().UnixNano(), fi.Mode().Perm(), rel)
			n++
		}
	}
	return b.String(), n, nil
}

// statChunk is files of a tree, in walk order, and their lstat.
type statChunk struct {
	paths []string
	infos []fs.FileInfo
	errs  []error
}

// statTree walks dir and lstats every file but the directories, on every
// core, in chunks of walk order.
func statTree(dir string) ([]*statChunk, error) {
	work := make(chan *statChunk)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			for c := range work {
				c.infos, c.errs = make([]fs.FileInfo, len(c.paths)), make([]error, len(c.paths))
				for i, p := range c.paths {
					c.infos[i], c.errs[i] = os.Lstat(p)
				}
			}
		})
	}
	var chunks []*statChunk
	c := &statChunk{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if c.paths = append(c.paths, p); len(c.paths) == 256 {
			chunks = append(chunks, c)
			work <- c
			c = &statChunk{}
		}
		return nil
	})
	chunks = append(chunks, c)
	work <- c
	close(work)
	wg.Wait()
	return chunks, err
}

// writeIndex records the files under dir in its index file.
func writeIndex(dir string) error {
	idx, _, err := index(dir, nil)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, IndexFile), []byte(idx), 0o600)
}

// Verify checks a restored tree before it is used: the directory, its
// index and every file are the user's and not writable by others, and the
// files are exactly those of the index, with the size, time and mode they
// were restored with after their digest was checked. It reads no file
// content, so it costs a stat per file; any difference means the part
// must be restored again.
func Verify(dir string, p bundle.Part) error {
	for _, name := range []string{dir, filepath.Join(dir, IndexFile)} {
		fi, err := os.Stat(name)
		if err != nil {
			return err
		}
		if !fsutil.IsPrivate(fi) {
			return fmt.Errorf("is not private to this user (%s has mode %v)", name, fi.Mode())
		}
	}
	want, err := os.ReadFile(filepath.Join(dir, IndexFile))
	if err != nil {
		return fmt.Errorf("has no index: %w", err)
	}
	got, n, err := index(dir, func(rel string, fi fs.FileInfo) error {
		if !fsutil.IsPrivate(fi) {
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

// Discard moves a bad tree out of the way and removes it.
func Discard(dir string) {
	aside := fmt.Sprintf("%s.bad-%d", dir, time.Now().UnixNano())
	if os.Rename(dir, aside) == nil {
		dir = aside
	}
	fsutil.RemoveAll(dir)
}
