package swap

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"

	"github.com/shazow/go-selfcompile/internal/lockfile"
)

// swap renames the running binary aside first: Windows does not let a
// running executable be replaced, but lets it be renamed.
func swap(fsys FS, target, newBin string) (string, error) {
	return swapAside(fsys, target, newBin)
}

// matchOwner does nothing on Windows, where files inherit the directory's
// ACL.
func matchOwner(string, fs.FileInfo) error { return nil }

// checkSticky has nothing to check on Windows.
func checkSticky(string, fs.FileInfo) error { return nil }

// disarm has nothing to take from a backup on Windows: its executables
// carry no setuid bits or file capabilities.
func disarm(string) error { return nil }

// CheckBackupFile leaves the backup's access to its directory's ACL on
// Windows.
func CheckBackupFile(target, backup string) error { return nil }

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

// RemoveAsides removes what earlier swaps of exe renamed aside: a binary
// cannot be deleted while it runs, so each start of the new one removes
// those of the old ones that no longer run.
func RemoveAsides(exe string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(exe), lockfile.GlobEscape(sidePrefix(exe, asideTag))+"*"))
	for _, m := range matches {
		os.Remove(m) // fails, harmlessly, for one still running
	}
}
