// Package swap replaces an executable with a new build of it, keeping the
// old one as a backup.
//
// It never writes into the running file: on Linux that fails with
// ETXTBSY, and anywhere else it can leave a half-written program. The new
// binary is built in a private directory beside the target (same file
// system, so rename is atomic), given the target's owner, then its mode
// with setuid and setgid bits, then its extended attributes (file
// capabilities among them), in that order because chown clears the bits
// and the capabilities; synced, and renamed over the target; then the
// directory is synced. The old binary is kept under a unique name until the
// swap is durable, and put back if any step fails.
package swap

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// FS is the seam through which the swap touches the disk, so that tests
// can make any step fail. Failpoint, if set, is called with the name of
// each point a test may stop the swap at.
type FS struct {
	Rename    func(oldpath, newpath string) error
	Link      func(oldname, newname string) error
	Remove    func(name string) error
	SyncFile  func(name string) error
	SyncDir   func(dir string) error
	Sleep     func(time.Duration)
	Failpoint func(name string)
}

// OS is the file system itself.
func OS() FS {
	return FS{Rename: os.Rename, Link: os.Link, Remove: os.Remove, SyncFile: fsutil.SyncFile, SyncDir: fsutil.SyncDir, Sleep: time.Sleep}
}

func (fsys FS) failpoint(name string) {
	if fsys.Failpoint != nil {
		fsys.Failpoint(name)
	}
}

// Name parts of the files the library leaves beside a target. All carry a
// random suffix: there are no fixed temporary names.
const (
	newTag    = "new"    // directory holding the new binary while it is built and verified
	oldNewTag = "stage"  // the same, as earlier versions of the library named it
	backupTag = "backup" // a previous binary, kept for Rollback
	asideTag  = "old"    // Windows: a backup that still ran when it was pruned
	checkTag  = "check"  // a file that proves the directory is writable and the metadata can be kept
)

func sidePrefix(target, tag string) string {
	return "." + filepath.Base(target) + ".selfcompile-" + tag + "-"
}

// sideName returns a new unique name beside target: ".<base>.selfcompile-<tag>-<random>".
func sideName(target, tag string) string {
	var b [6]byte
	rand.Read(b[:])
	return filepath.Join(filepath.Dir(target), sidePrefix(target, tag)+hex.EncodeToString(b[:]))
}

// NewDir creates the private directory beside target that the new binary
// is built into. The caller removes it.
func NewDir(target string) (string, error) {
	return os.MkdirTemp(filepath.Dir(target), sidePrefix(target, newTag))
}

// UndoError reports a swap that failed after the target was moved and
// whose undoing failed too: the target may be missing, and the previous
// binary is at Backup.
type UndoError struct {
	Target, Backup  string
	Err, RestoreErr error
}

func (e *UndoError) Error() string {
	return fmt.Sprintf("replacing %s failed (%v) and putting the previous binary back failed too (%v)", e.Target, e.Err, e.RestoreErr)
}

// Unwrap returns both causes.
func (e *UndoError) Unwrap() []error { return []error{e.Err, e.RestoreErr} }

// Replace moves newBin over target, with the target's owner, mode and
// extended attributes, and returns the path of the old binary, which the
// caller removes or keeps. On error, target is the old binary, intact,
// unless the error is an *UndoError.
func Replace(fsys FS, target, newBin string) (old string, err error) {
	fi, err := os.Stat(target)
	if err != nil {
		return "", err
	}
	if err := copyMetadata(newBin, target, fi); err != nil {
		return "", err
	}
	if err := fsys.SyncFile(newBin); err != nil {
		return "", err
	}
	fsys.failpoint("swap-staged")
	return swap(fsys, target, newBin)
}

// swapLinked is the swap for systems where a running executable can be
// renamed over (Unix): link the old file to a backup name, rename the new
// one over the target, sync the directory. The target path always names a
// complete binary.
func swapLinked(fsys FS, target, newBin string) (string, error) {
	dir := filepath.Dir(target)
	backup := backupName(target)
	if err := fsys.Link(target, backup); err != nil {
		if err := errors.Join(fsutil.CopyFile(target, backup, 0o700), fsys.SyncFile(backup)); err != nil {
			os.Remove(backup)
			return "", fmt.Errorf("keeping a backup of %s: %w", target, err)
		}
	}
	fsys.failpoint("swap-linked")
	if err := fsys.Rename(newBin, target); err != nil {
		fsys.Remove(backup)
		return "", err
	}
	fsys.failpoint("swap-renamed")
	if err := fsys.SyncDir(dir); err != nil {
		return "", restoreBackup(fsys, target, backup, err)
	}
	fsys.failpoint("swap-synced")
	return backup, nil
}

// swapAside is the swap for systems where a running executable cannot be
// replaced but can be renamed (Windows): rename the target aside under a
// unique hidden name, move the new file in, and put the old one back if
// that fails. Sharing violations (an antivirus scanner, an indexer) are
// retried for a short while.
func swapAside(fsys FS, target, newBin string) (string, error) {
	aside := backupName(target)
	if err := retry(fsys, func() error { return fsys.Rename(target, aside) }); err != nil {
		return "", err
	}
	fsys.failpoint("swap-aside")
	if err := retry(fsys, func() error { return fsys.Rename(newBin, target) }); err != nil {
		return "", restoreBackup(fsys, target, aside, err)
	}
	fsys.failpoint("swap-renamed")
	if err := fsys.SyncDir(filepath.Dir(target)); err != nil {
		return "", restoreBackup(fsys, target, aside, err)
	}
	return aside, nil
}

// restoreBackup puts the old binary back after a failed swap step. If
// that fails too, the error is an *UndoError: a person must act.
func restoreBackup(fsys FS, target, backup string, cause error) error {
	if err := retry(fsys, func() error { return fsys.Rename(backup, target) }); err != nil {
		return &UndoError{Target: target, Backup: backup, Err: cause, RestoreErr: err}
	}
	fsys.SyncDir(filepath.Dir(target))
	return cause
}

// retry runs f up to 10 times over about two seconds while it fails with a
// transient error.
func retry(fsys FS, f func() error) error {
	var err error
	for i := range 10 {
		if err = f(); err == nil || !transient(err) {
			return err
		}
		fsys.Sleep(time.Duration(i+1) * 40 * time.Millisecond)
	}
	return err
}

// LinkOrCopy makes dst the same file as src, or a copy of it.
func LinkOrCopy(src, dst string) error {
	if os.Link(src, dst) == nil {
		return nil
	}
	return fsutil.CopyFile(src, dst, 0o700)
}
