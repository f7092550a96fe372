package selfcompile

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// Replacing the executable never writes into the running file: on Linux
// that fails with ETXTBSY, and anywhere else it can leave a half-written
// program. The new binary is staged in a private directory beside the
// target (same file system, so rename is atomic), given the target's
// owner, then its mode with setuid and setgid bits, then its extended
// attributes (file capabilities among them), in that order because chown
// clears the bits and the capabilities; synced, and renamed over the
// target; then the directory is synced. The old binary is kept under a
// unique name until the swap is durable, and put back if any step fails.

// Name parts of the files the library leaves beside a target. All carry a
// random suffix: there are no fixed temporary names.
const (
	stageTag  = "stage" // directory holding the new binary while it is built and verified
	backupTag = "backup"
	asideTag  = "old"   // Windows: a backup that still ran when it was pruned
	checkTag  = "check" // a file that proves the directory is writable and the metadata can be kept
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

func osFS() fileSystem {
	return fileSystem{Rename: os.Rename, Link: os.Link, Remove: os.Remove, SyncFile: syncFile, SyncDir: syncDir, Sleep: time.Sleep}
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

// disarmBackups takes their privileges from the backups of target: the
// one the swap just made, and any that an install killed before it could
// left. A backup that keeps them is removed. A backup that is the target's
// own file (Rollback's, until it removes it) is left alone.
func disarmBackups(target string, logf func(string, ...any)) {
	for _, b := range backups(target) {
		if sameFile(b, target) {
			continue
		}
		if err := disarm(b); err != nil {
			logf("Removing the backup %s, which kept its privileges: %v", b, err)
			os.Remove(b)
		}
	}
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
// target: staging directories and checks. The caller holds the lock.
// Backups stay: pruneBackups keeps as many as asked.
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

// checkReplaceable checks, before any work, that this process may replace
// target with a file that keeps everything that makes it what it is: it
// may create files in the directory; a sticky directory lets it rename
// over the file; and the new file can be given the target's owner, setuid
// and setgid bits and extended attributes (file capabilities among them).
// Anything that would be lost is named.
func checkReplaceable(target string) error {
	fi, err := os.Stat(target)
	if err != nil {
		return &TargetError{Path: target, Err: err}
	}
	check, err := os.CreateTemp(filepath.Dir(target), sidePrefix(target, checkTag))
	if err != nil {
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return &TargetError{Path: target, Err: err}
	}
	check.Close()
	defer os.Remove(check.Name())
	if err := checkSticky(target, fi); err != nil {
		return &TargetError{Path: target, Err: err}
	}
	if err := copyMetadata(check.Name(), target, fi); err != nil {
		return &TargetError{Path: target, Err: err}
	}
	return nil
}

// copyMetadata gives dst the owner, mode (setuid and setgid included) and
// extended attributes of src, whose FileInfo is fi, in the order that
// keeps them all; it names what it cannot keep.
func copyMetadata(dst, src string, fi fs.FileInfo) error {
	if err := matchOwner(dst, fi); err != nil {
		return err
	}
	mode := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if err := os.Chmod(dst, mode); err != nil {
		return err
	}
	if err := checkBits(dst, fi); err != nil {
		return err
	}
	return copyXattrs(dst, src)
}

// checkBits checks that dst has the setuid and setgid bits of fi, with
// the owner and group that give them their meaning.
func checkBits(dst string, fi fs.FileInfo) error {
	bits := fi.Mode() & (fs.ModeSetuid | fs.ModeSetgid)
	if bits == 0 {
		return nil
	}
	got, err := os.Stat(dst)
	if err != nil {
		return err
	}
	if got.Mode()&bits != bits || (bits&fs.ModeSetuid != 0 && owner(got) != owner(fi)) || (bits&fs.ModeSetgid != 0 && group(got) != group(fi)) {
		return fmt.Errorf("%w: the new binary would lose its setuid or setgid bit (mode %v, owner %d:%d): rerun as root or as its owner", fs.ErrPermission, fi.Mode(), owner(fi), group(fi))
	}
	return nil
}

// replaceExecutable moves staged over target, with the target's owner,
// mode and extended attributes. It returns the path of the old binary,
// which the caller removes or keeps. On error target is the old binary,
// intact, unless the error is a *RollbackError.
func replaceExecutable(ctx context.Context, fsys fileSystem, target, staged string) (old string, err error) {
	fi, err := os.Stat(target)
	if err != nil {
		return "", err
	}
	if err := copyMetadata(staged, target, fi); err != nil {
		return "", err
	}
	if err := fsys.SyncFile(staged); err != nil {
		return "", err
	}
	failpoint(ctx, "swap-staged")
	return swap(ctx, fsys, target, staged)
}

// swapLinked is the swap for systems where a running executable can be
// renamed over (Unix): link the old file to a backup name, rename the new
// one over the target, sync the directory. The target path always names a
// complete binary.
func swapLinked(ctx context.Context, fsys fileSystem, target, staged string) (string, error) {
	dir := filepath.Dir(target)
	backup := backupName(target)
	if err := fsys.Link(target, backup); err != nil {
		if err := fsutil.CopyFile(target, backup, 0o700); err != nil {
			os.Remove(backup)
			return "", fmt.Errorf("keeping a backup of %s: %w", target, err)
		}
	}
	failpoint(ctx, "swap-linked")
	if err := fsys.Rename(staged, target); err != nil {
		fsys.Remove(backup)
		return "", err
	}
	failpoint(ctx, "swap-renamed")
	if err := fsys.SyncDir(dir); err != nil {
		return "", restoreBackup(fsys, target, backup, err)
	}
	failpoint(ctx, "swap-synced")
	return backup, nil
}

// swapAside is the swap for systems where a running executable cannot be
// replaced but can be renamed (Windows): rename the target aside under a
// unique hidden name, move the new file in, and put the old one back if
// that fails. Sharing violations (an antivirus scanner, an indexer) are
// retried for a short while.
func swapAside(ctx context.Context, fsys fileSystem, target, staged string) (string, error) {
	aside := backupName(target)
	if err := retry(fsys, func() error { return fsys.Rename(target, aside) }); err != nil {
		return "", err
	}
	failpoint(ctx, "swap-aside")
	if err := retry(fsys, func() error { return fsys.Rename(staged, target) }); err != nil {
		return "", restoreBackup(fsys, target, aside, err)
	}
	failpoint(ctx, "swap-renamed")
	if err := fsys.SyncDir(filepath.Dir(target)); err != nil {
		return "", restoreBackup(fsys, target, aside, err)
	}
	return aside, nil
}

// restoreBackup puts the old binary back after a failed swap step. If
// that fails too, the error is a *RollbackError: a person must act.
func restoreBackup(fsys fileSystem, target, backup string, cause error) error {
	if err := retry(fsys, func() error { return fsys.Rename(backup, target) }); err != nil {
		return &RollbackError{Target: target, Backup: backup, Err: cause, RestoreErr: err}
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

// linkOrCopy makes dst the same file as src, or a copy of it.
func linkOrCopy(src, dst string) error {
	if os.Link(src, dst) == nil {
		return nil
	}
	return fsutil.CopyFile(src, dst, 0o700)
}

// replace swaps the verified new binary in for the executable, keeping
// the old one as the newest backup, after checking that the executable is
// still the file the install read.
func (in *install) replace() error {
	done := in.stage("replace")
	if err := in.bin.stillThere(); err != nil {
		return err
	}
	in.c.logf("Replacing binary: %s", in.bin.path)
	if err := in.c.swapIn(in.ctx, in.bin.path, in.staged); err != nil {
		return err
	}
	done()
	return nil
}

// swapIn replaces target with newBin, keeps the old binary as the newest
// backup, and removes the backups beyond Backups.
func (c *SelfCompile) swapIn(ctx context.Context, target, newBin string) error {
	old, err := replaceExecutable(ctx, osFS(), target, newBin)
	var re *RollbackError
	if errors.As(err, &re) {
		return err
	}
	if err != nil {
		return &TargetError{Path: target, Err: err}
	}
	disarmBackups(target, c.logf)
	keep := c.Backups
	if keep == 0 {
		keep = 1
	}
	if keep < 0 {
		os.Remove(old) // on Windows this fails while the old binary runs; the next start removes it
		keep = 0
	}
	pruneBackups(target, keep)
	failpoint(ctx, "pruned")
	return nil
}
