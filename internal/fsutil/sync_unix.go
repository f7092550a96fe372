//go:build !windows

package fsutil

import (
	"errors"
	"os"
	"syscall"
)

// SyncFile makes the content of the file at name durable. It opens the
// file read-only: fsync needs no more, and a file that a process runs
// cannot be opened for writing (ETXTBSY on Linux).
func SyncFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SyncDir makes a rename in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}
