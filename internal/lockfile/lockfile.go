// Package lockfile holds the locks of an install: the one beside an
// executable that lets one installer at a time replace it, the one of the
// cache that keeps a trim away from running installs, and the locks of
// temporary directories, which tell a live installer's directory from one
// that a killed installer left. The operating system drops a lock when its
// holder dies (flock on Unix, LockFileEx on Windows).
package lockfile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// ErrBusy is what a lock that does not wait returns while another process
// holds it.
var ErrBusy = errors.New("another process holds the lock")

// Lock is a held lock.
type Lock struct {
	f    *os.File
	Name string // the lock file
}

// Release releases the lock.
func (l *Lock) Release() {
	unlock(l.f)
	l.f.Close()
}

// TargetName is the lock file of an executable: ".<base>.selfcompile.lock"
// beside it.
func TargetName(target string) string {
	return filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".selfcompile.lock")
}

// Open takes a lock on the file name, creating it: exclusive or shared.
// With wait, it polls until the lock is free or ctx ends, calling waiting
// once; without, it fails at once with ErrBusy. The file is never opened
// through a symlink, and only if it belongs to this user or to root: it may
// be in a directory that others can write.
func Open(ctx context.Context, name string, exclusive, wait bool, waiting func()) (*Lock, error) {
	f, err := openLockFile(name)
	if err != nil {
		return nil, fmt.Errorf("opening the lock %s: %w", name, err)
	}
	for said := false; ; {
		ok, err := tryLock(f, exclusive)
		if ok || err != nil {
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("taking the lock %s: %w", name, err)
			}
			return &Lock{f: f, Name: name}, nil
		}
		if !wait {
			f.Close()
			return nil, ErrBusy
		}
		if !said && waiting != nil {
			waiting()
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Held reports whether another process holds a lock on the existing file
// name.
func Held(name string) bool {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	ok, _ := tryLock(f, true)
	if ok {
		unlock(f)
	}
	return !ok
}

// lockSuffix ends the name of the lock file that TempDir keeps beside each
// directory it makes.
const lockSuffix = ".lock"

// TempDir creates a new directory under parent, named prefix and a random
// suffix, and holds an exclusive lock on the file of the same name plus
// ".lock" beside it until release. The lock is taken before the directory
// exists, and outlives it: release removes the lock file only once the
// directory is gone (removed or renamed away). So RemoveStale never takes
// the directory of a live installer for one that a killed installer left,
// and always finds the latter.
func TempDir(parent, prefix string) (dir string, release func(), err error) {
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
		if !ok || !fsutil.IsFileAt(f, lock) {
			// Another installer's RemoveStale took the new lock file
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
// RemoveStale find it). The file is removed while still held where the
// system allows it (Unix), so that no other process takes it meanwhile;
// Windows removes no open file, so there it goes after it is closed.
func dropLock(f *os.File, dir, lock string) {
	gone := !fsutil.Exists(dir)
	removed := gone && os.Remove(lock) == nil
	unlock(f)
	f.Close()
	if gone && !removed {
		os.Remove(lock)
	}
}

// OldLockFile is where the lock of a directory that TempDir made was kept
// by earlier versions of the library: in the directory.
const OldLockFile = ".selfcompile-lock"

// RemoveStale removes the directories under parent that TempDir made with
// prefix and whose lock is free: their installer died. It removes those of
// earlier versions of the library too, with the lock inside.
func RemoveStale(parent, prefix string) {
	locks, _ := filepath.Glob(filepath.Join(parent, GlobEscape(prefix)+"*"+lockSuffix))
	for _, lock := range locks {
		removeIfFree(strings.TrimSuffix(lock, lockSuffix), lock)
	}
	old, _ := filepath.Glob(filepath.Join(parent, GlobEscape(prefix)+"*", OldLockFile))
	for _, lock := range old {
		removeIfFree(filepath.Dir(lock), "")
	}
}

// removeIfFree removes dir, and then its lock file, if the lock is free. A
// lock file left by an earlier version inside dir (lock == "") goes with
// it; Windows removes it only once it is closed.
func removeIfFree(dir, lock string) {
	name := lock
	if name == "" {
		name = filepath.Join(dir, OldLockFile)
	}
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return
	}
	ok, _ := tryLock(f, true)
	free := ok && fsutil.IsFileAt(f, name) // else held, or released and removed meanwhile
	if free {
		fsutil.RemoveAll(dir)
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
		fsutil.RemoveAll(dir)
	}
}

// GlobEscape escapes the characters that filepath.Glob treats specially.
func GlobEscape(s string) string {
	return strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`).Replace(s)
}
