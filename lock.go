package selfcompile

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// lockTarget takes the install lock of target: an exclusive lock on the
// file ".<base>.selfcompile.lock" beside it (flock on Unix, LockFileEx on
// Windows), so that one installer at a time replaces a given executable,
// across processes. The operating system drops the lock when its holder
// dies. With wait, it polls until the lock is free or ctx ends, saying once
// that it waits; without, it fails at once with ErrLocked.
func lockTarget(ctx context.Context, target string, wait bool, logf func(string, ...any)) (release func(), err error) {
	name := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".selfcompile.lock")
	f, err := openLockFile(name)
	if err != nil {
		return nil, &TargetError{Path: target, Err: fmt.Errorf("opening the install lock: %w", err)}
	}
	busy, err := waitLock(ctx, f, true, wait, func() { logf("Waiting for another install of %s to finish", target) })
	switch {
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("selfcompile: taking the install lock %s: %w", name, err)
	case busy:
		f.Close()
		return nil, fmt.Errorf("%w on %s (the lock is %s)", ErrLocked, target, name)
	}
	return func() { unlock(f); f.Close() }, nil
}

// cacheLockFile is the lock of a cache directory, in it.
const cacheLockFile = ".lock"

// lockCache takes the lock of the cache at root: shared for an install,
// which waits while TrimCache or PurgeCache holds it, saying so; exclusive
// for those, which fail at once with ErrLocked while an install holds it.
func lockCache(ctx context.Context, root string, exclusive bool, logf func(string, ...any)) (release func(), err error) {
	name := filepath.Join(root, cacheLockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: opening its lock: %v", ErrUnsafeCache, err)
	}
	busy, err := waitLock(ctx, f, exclusive, !exclusive, func() { logf("Waiting for the trim of the cache %s to finish", root) })
	switch {
	case err != nil:
		f.Close()
		return nil, fmt.Errorf("selfcompile: taking the lock of the cache %s: %w", root, err)
	case busy:
		f.Close()
		return nil, fmt.Errorf("%w: an install, or another trim, uses the cache %s; try again when it is done", ErrLocked, root)
	}
	release = func() { unlock(f); f.Close() }
	if exclusive {
		if err := checkOldInstalls(root); err != nil {
			release()
			return nil, err
		}
	}
	return release, nil
}

// checkOldInstalls fails with ErrLocked while an install by an earlier
// version of the library, which takes no cache lock, works in the cache at
// root: it holds the lock file in its workdir.
func checkOldInstalls(root string) error {
	locks, _ := filepath.Glob(filepath.Join(workRoot(root), globEscape(workPrefix)+"*", oldLockFile))
	for _, lock := range locks {
		f, err := os.OpenFile(lock, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		ok, _ := tryLock(f, true)
		if ok {
			unlock(f)
		}
		f.Close()
		if !ok {
			return fmt.Errorf("%w: an install by an earlier version of the library works in %s; try again when it is done", ErrLocked, filepath.Dir(lock))
		}
	}
	return nil
}

// waitLock locks f, exclusive or shared. With wait, it polls until the
// lock is free or ctx ends, calling waiting once; without, it reports at
// once that another process holds it.
func waitLock(ctx context.Context, f *os.File, exclusive, wait bool, waiting func()) (busy bool, err error) {
	for said := false; ; {
		ok, err := tryLock(f, exclusive)
		if ok || err != nil {
			return false, err
		}
		if !wait {
			return true, nil
		}
		if !said {
			waiting()
			said = true
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// lockSuffix ends the name of the lock file that lockedTempDir keeps
// beside each directory it makes.
const lockSuffix = ".lock"

// lockedTempDir creates a new directory under parent, named prefix and a
// random suffix, and holds an exclusive lock on the file of the same name
// plus lockSuffix beside it until release. The lock is taken before the
// directory exists, and outlives it: release removes the lock file only
// once the directory is gone (removed or renamed away). So removeStale
// never takes the directory of a live installer for one that a killed
// installer left, and always finds the latter.
func lockedTempDir(parent, prefix string) (dir string, release func(), err error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	for range 3 {
		f, err := os.CreateTemp(parent, prefix+"*"+lockSuffix)
		if err != nil {
			return "", nil, err
		}
		lock := f.Name()
		ok, err := tryLock(f, true)
		if err != nil {
			f.Close()
			os.Remove(lock)
			return "", nil, fmt.Errorf("locking %s: %w", lock, err)
		}
		if !ok || !isFileAt(f, lock) {
			// Another installer's removeStale took the new lock file
			// before this one locked it, and removes it.
			f.Close()
			continue
		}
		dir = strings.TrimSuffix(lock, lockSuffix)
		release = func() { dropLock(f, dir, lock) }
		if err := os.Mkdir(dir, 0o700); err != nil {
			release()
			return "", nil, err
		}
		return dir, release, nil
	}
	return "", nil, fmt.Errorf("locking a new directory in %s: another process removed its lock file each time", parent)
}

// dropLock releases the lock f of dir, at lock, and removes the lock file
// once dir is gone (while the directory is there, the lock file lets
// removeStale find it). The file is removed while still held where the
// system allows it (Unix), so that no other process takes it meanwhile;
// Windows removes no open file, so there it goes after it is closed.
func dropLock(f *os.File, dir, lock string) {
	_, err := os.Lstat(dir)
	gone := os.IsNotExist(err)
	removed := gone && os.Remove(lock) == nil
	unlock(f)
	f.Close()
	if gone && !removed {
		os.Remove(lock)
	}
}

// oldLockFile is where the lock of a directory that lockedTempDir made was
// before it moved beside the directory: in it.
const oldLockFile = ".selfcompile-lock"

// removeStale removes the directories under parent that lockedTempDir made
// with prefix and whose lock is free: their installer died. It removes
// those of earlier versions of the library too, with the lock inside.
func removeStale(parent, prefix string) {
	locks, _ := filepath.Glob(filepath.Join(parent, globEscape(prefix)+"*"+lockSuffix))
	for _, lock := range locks {
		removeIfFree(strings.TrimSuffix(lock, lockSuffix), lock)
	}
	old, _ := filepath.Glob(filepath.Join(parent, globEscape(prefix)+"*", oldLockFile))
	for _, lock := range old {
		removeIfFree(filepath.Dir(lock), "")
	}
}

// removeIfFree removes dir, and then its lock file, if the lock is free. A
// lock file left by an earlier version inside dir (lock == "") goes with
// it; Windows removes it only once it is closed.
func removeIfFree(dir, lock string) {
	name := cmp.Or(lock, filepath.Join(dir, oldLockFile))
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return
	}
	ok, _ := tryLock(f, true)
	free := ok && isFileAt(f, name) // else held, or released and removed meanwhile
	if free {
		removeTree(dir)
	}
	if free && lock != "" {
		dropLock(f, dir, lock)
	} else {
		if ok {
			unlock(f)
		}
		f.Close()
	}
	if free && lock == "" {
		removeTree(dir)
	}
}

// isFileAt reports whether the open file f is the one at path.
func isFileAt(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Lstat(path)
	return err == nil && os.SameFile(a, b)
}
