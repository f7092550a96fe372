//go:build unix

package lockfile

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// tryLock takes an exclusive or a shared lock on f without waiting. It
// reports false when another process holds a lock that excludes it.
func tryLock(f *os.File, exclusive bool) (bool, error) {
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}

func unlock(f *os.File) error { return unix.Flock(int(f.Fd()), unix.LOCK_UN) }

// openLockFile opens a lock file, perhaps in a directory that others may
// write: never through a symlink, and only if it belongs to this user or
// to root.
func openLockFile(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s is not a regular file", name)
	}
	if o := fsutil.Owner(fi); err == nil && o != os.Geteuid() && o != 0 {
		err = fmt.Errorf("%s belongs to uid %d, not to this user or root: remove it", name, o)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
