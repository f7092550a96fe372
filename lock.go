package selfcompile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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

// lockFileName is the lock file inside a directory made by lockedTempDir.
const lockFileName = ".selfcompile-lock"

// lockedTempDir creates a new directory under parent, named prefix and a
// random suffix, and holds an exclusive lock on a file inside it until
// release. removeStale tells such directories of live installers from those
// that a killed one left.
func lockedTempDir(parent, prefix string) (dir string, release func(), err error) {
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return "", nil, err
	}
	dir, err = os.MkdirTemp(parent, prefix)
	if err != nil {
		return "", nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return "", nil, err
	}
	if ok, err := tryLock(f); !ok || err != nil {
		f.Close()
		os.RemoveAll(dir)
		return "", nil, fmt.Errorf("locking %s: %v", dir, err)
	}
	return dir, func() { unlock(f); f.Close() }, nil
}

// removeStale removes the directories under parent that lockedTempDir made
// with prefix and whose lock is free: their installer died. A directory
// without the lock file is not known to be ours and is left alone.
func removeStale(parent, prefix string) {
	matches, _ := filepath.Glob(filepath.Join(parent, globEscape(prefix)+"*"))
	for _, dir := range matches {
		f, err := os.OpenFile(filepath.Join(dir, lockFileName), os.O_RDWR, 0)
		if err != nil {
			continue
		}
		ok, _ := tryLock(f)
		if ok {
			unlock(f)
		}
		f.Close()
		if ok {
			os.RemoveAll(dir)
		}
	}
}
