package selfcompile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// swap renames the running binary aside first: Windows does not let a
// running executable be replaced, but lets it be renamed.
func swap(ctx context.Context, fsys fileSystem, target, staged string) (string, error) {
	return swapAside(ctx, fsys, target, staged)
}

// syncDir is a no-op: Windows has no directory fsync; MoveFileEx is
// journaled by NTFS.
func syncDir(string) error { return nil }

// matchOwner does nothing on Windows, where files inherit the directory's
// ACL.
func matchOwner(string, fs.FileInfo) error { return nil }

// checkSticky has nothing to check on Windows.
func checkSticky(string, fs.FileInfo) error { return nil }

// disarm has nothing to take from a backup on Windows: its executables
// carry no setuid bits or file capabilities.
func disarm(string) error { return nil }

// checkBackupFile leaves the backup's access to its directory's ACL on
// Windows.
func checkBackupFile(target, backup string) error { return nil }

// copyXattrs does nothing on Windows: its executables carry no extended
// attributes that an install must keep.
func copyXattrs(dst, src string) error { return nil }

// transient reports whether a failed rename is worth retrying: sharing
// violations come and go while scanners hold the file open.
func transient(err error) bool {
	return errors.Is(err, windows.ERROR_SHARING_VIOLATION) ||
		errors.Is(err, windows.ERROR_ACCESS_DENIED) ||
		errors.Is(err, windows.ERROR_LOCK_VIOLATION)
}

// removeAsides removes what earlier swaps renamed aside: a binary cannot be
// deleted while it runs, so each start of the new one removes those of
// the old ones that no longer run.
func removeAsides() {
	exe, err := startExe()
	if err != nil {
		return
	}
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), globEscape(sidePrefix(exe, asideTag))+"*"))
	for _, m := range matches {
		os.Remove(m) // fails, harmlessly, for one still running
	}
}
