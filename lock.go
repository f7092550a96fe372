package selfcompile

import (
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
	said := false
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("selfcompile: locking %s: %w", name, err)
		}
		if ok {
			return func() { unlock(f); f.Close() }, nil
		}
		if !wait {
			f.Close()
			return nil, fmt.Errorf("%w on %s (the lock is %s)", ErrLocked, target, name)
		}
		if !said {
			logf("Waiting for another install of %s to finish", target)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("selfcompile: waiting for the install lock on %s: %w", target, ctx.Err())
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
// directory exists, and outlives it (release comes after the directory is
// removed or renamed away), so removeStale never takes the directory of a
// live installer for one that a killed installer left.
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
		if ok, _ := tryLock(f); !ok || !isFileAt(f, lock) {
			// Another installer's removeStale took the new lock file
			// before this one locked it, and removes it.
			f.Close()
			continue
		}
		release = func() { unlock(f); f.Close(); os.Remove(lock) }
		dir = strings.TrimSuffix(lock, lockSuffix)
		if err := os.Mkdir(dir, 0o700); err != nil {
			release()
			return "", nil, err
		}
		return dir, release, nil
	}
	return "", nil, fmt.Errorf("locking a new directory in %s: another process removed its lock file each time", parent)
}

// removeStale removes the directories under parent that lockedTempDir made
// with prefix and whose lock is free: their installer died.
func removeStale(parent, prefix string) {
	scanDirs(parent, prefix, func(dir, lock string, free bool) {
		if free {
			removeTree(dir)
			os.Remove(lock)
		}
	})
}

// liveDirs returns the directories under parent that lockedTempDir made
// with prefix and whose installer still runs: it holds their lock.
func liveDirs(parent, prefix string) (live []string) {
	scanDirs(parent, prefix, func(dir, _ string, free bool) {
		if !free {
			live = append(live, dir)
		}
	})
	return live
}

// scanDirs calls fn for each directory under parent that lockedTempDir
// made with prefix, and its lock file, saying whether the lock is free;
// if it is, this process holds it while fn runs.
func scanDirs(parent, prefix string, fn func(dir, lock string, free bool)) {
	locks, _ := filepath.Glob(filepath.Join(parent, globEscape(prefix)+"*"+lockSuffix))
	for _, lock := range locks {
		f, err := os.OpenFile(lock, os.O_RDWR, 0)
		if err != nil {
			continue
		}
		ok, _ := tryLock(f)
		if !ok || isFileAt(f, lock) { // else released and removed meanwhile
			fn(strings.TrimSuffix(lock, lockSuffix), lock, ok)
		}
		if ok {
			unlock(f)
		}
		f.Close()
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
