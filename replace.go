package selfcompile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Replacing the executable never writes into the running file: on Linux
// that fails with ETXTBSY, and anywhere else it can leave a half-written
// program. The new binary is staged in a private directory beside the
// target (same file system, so rename is atomic), given the target's mode,
// synced, and renamed over the target; then the directory is synced. The
// old binary is kept under a unique name until the swap is durable, and put
// back if any step fails.

// Name parts of the files the library leaves beside a target. All carry a
// random suffix: there are no fixed temporary names.
const (
	stageTag  = "stage" // directory holding the new binary while it is built and verified
	backupTag = "backup"
	asideTag  = "old"   // Windows: a backup that still ran when it was pruned
	checkTag  = "check" // an empty file that proves the directory is writable
)

// fileSystem is the seam through which the swap touches the disk, so that
// tests can make any step fail.
type fileSystem struct {
	Rename   func(oldpath, newpath string) error
	Link     func(oldname, newname string) error
	Remove   func(name string) error
	SyncFile func(name string) error
	SyncDir  func(dir string) error
	Sleep    func(time.Duration)
}

var osFS = fileSystem{
	Rename:   os.Rename,
	Link:     os.Link,
	Remove:   os.Remove,
	SyncFile: syncFile,
	SyncDir:  syncDir,
	Sleep:    time.Sleep,
}

// sideName returns a new unique name beside target: ".<base>.selfcompile-<tag>-<random>".
func sideName(target, tag string) string {
	var b [6]byte
	rand.Read(b[:])
	return filepath.Join(filepath.Dir(target), sidePrefix(target, tag)+hex.EncodeToString(b[:]))
}

func sidePrefix(target, tag string) string {
	return "." + filepath.Base(target) + ".selfcompile-" + tag + "-"
}

// newStageDir creates the private directory beside target that the new
// binary is built into.
func newStageDir(target string) (string, error) {
	return os.MkdirTemp(filepath.Dir(target), sidePrefix(target, stageTag))
}

// backupName returns a new name for a backup of target. Backups sort by
// name in the order they were made.
func backupName(target string) string {
	var b [4]byte
	rand.Read(b[:])
	return filepath.Join(filepath.Dir(target), fmt.Sprintf("%s%020d-%s", sidePrefix(target, backupTag), time.Now().UnixNano(), hex.EncodeToString(b[:])))
}

// backups returns the backups of target, newest first.
func backups(target string) []string {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(target), globEscape(sidePrefix(target, backupTag))+"*"))
	slices.Sort(matches)
	slices.Reverse(matches)
	return matches
}

// pruneBackups removes all but the newest keep backups of target. On
// Windows a backup that still runs cannot be removed; it is renamed for
// removal at the next start.
func pruneBackups(target string, keep int) {
	bs := backups(target)
	for _, b := range bs[min(keep, len(bs)):] {
		if err := os.Remove(b); err != nil {
			os.Rename(b, sideName(target, asideTag))
		}
	}
}

// removeLeftovers removes what an earlier, killed install left beside
// target: staging directories and directory checks. The caller holds the
// lock. Backups stay: pruneBackups keeps as many as asked.
func removeLeftovers(target string) {
	for _, tag := range []string{stageTag, checkTag} {
		matches, _ := filepath.Glob(filepath.Join(filepath.Dir(target), globEscape(sidePrefix(target, tag))+"*"))
		for _, m := range matches {
			os.RemoveAll(m)
		}
	}
}

func globEscape(s string) string {
	return strings.NewReplacer(`*`, `\*`, `?`, `\?`, `[`, `\[`, `\`, `\\`).Replace(s)
}

// replaceExecutable moves staged over target, giving it the target's mode
// whatever the umask. It returns the path of the old binary, which the
// caller removes or keeps. On error target is the old binary, intact.
func replaceExecutable(fsys fileSystem, target, staged string) (old string, err error) {
	fi, err := os.Stat(target)
	if err != nil {
		return "", err
	}
	mode := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if err := os.Chmod(staged, mode); err != nil {
		return "", err
	}
	matchOwner(staged, fi)
	if err := fsys.SyncFile(staged); err != nil {
		return "", err
	}
	return swap(fsys, target, staged)
}

// swapLinked is the swap for systems where a running executable can be
// renamed over (Unix): link the old file to a backup name, rename the new
// one over the target, sync the directory. The target path always names a
// complete binary.
func swapLinked(fsys fileSystem, target, staged string) (string, error) {
	dir := filepath.Dir(target)
	backup := backupName(target)
	if err := fsys.Link(target, backup); err != nil {
		if err := copyFile(target, backup); err != nil {
			return "", fmt.Errorf("keeping a backup of %s: %w", target, err)
		}
	}
	if err := fsys.Rename(staged, target); err != nil {
		fsys.Remove(backup)
		return "", err
	}
	if err := fsys.SyncDir(dir); err != nil {
		return "", restoreBackup(fsys, target, backup, err)
	}
	return backup, nil
}

// swapAside is the swap for systems where a running executable cannot be
// replaced but can be renamed (Windows): rename the target aside under a
// unique hidden name, move the new file in, and put the old one back if
// that fails. Sharing violations (an antivirus scanner, an indexer) are
// retried for a short while.
func swapAside(fsys fileSystem, target, staged string) (string, error) {
	aside := backupName(target)
	if err := retry(fsys, func() error { return fsys.Rename(target, aside) }); err != nil {
		return "", err
	}
	if err := retry(fsys, func() error { return fsys.Rename(staged, target) }); err != nil {
		return "", restoreBackup(fsys, target, aside, err)
	}
	if err := fsys.SyncDir(filepath.Dir(target)); err != nil {
		return "", restoreBackup(fsys, target, aside, err)
	}
	return aside, nil
}

// restoreBackup puts the old binary back after a failed swap step.
func restoreBackup(fsys fileSystem, target, backup string, cause error) error {
	if err := retry(fsys, func() error { return fsys.Rename(backup, target) }); err != nil {
		return fmt.Errorf("%w; restoring the previous binary also failed (%v): it is at %s", cause, err, backup)
	}
	fsys.SyncDir(filepath.Dir(target))
	return cause
}

// retry runs f up to 10 times over about two seconds while it fails with a
// transient error.
func retry(fsys fileSystem, f func() error) error {
	var err error
	for i := range 10 {
		if err = f(); err == nil || !transient(err) {
			return err
		}
		fsys.Sleep(time.Duration(i+1) * 40 * time.Millisecond)
	}
	return err
}

func syncFile(name string) error {
	f, err := os.OpenFile(name, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// copyFile copies src to a new file dst with src's mode.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	return out.Close()
}

// checkWritable fails with a *TargetError unless this process can create
// files in dir.
func checkWritable(target string) error {
	f, err := os.CreateTemp(filepath.Dir(target), sidePrefix(target, checkTag))
	if err != nil {
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return &TargetError{Path: target, Err: err}
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}
