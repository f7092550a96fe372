package fsutil

import (
	"errors"
	"os"

	"golang.org/x/sys/windows"
)

// SyncFile makes the content of the file at name durable. Windows flushes
// only a handle open for writing; a file that a process runs cannot be
// opened so, and was written before it ran: that counts as durable.
func SyncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if errors.Is(err, windows.ERROR_SHARING_VIOLATION) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// SyncDir does nothing: Windows has no directory fsync, and NTFS journals
// MoveFileEx.
func SyncDir(string) error { return nil }
