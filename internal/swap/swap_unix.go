//go:build unix

package swap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// swap renames the new binary over the running one; Unix allows it.
func swap(fsys FS, target, newBin string) (string, error) {
	return swapLinked(fsys, target, newBin)
}

// matchOwner gives name the owner and group of fi. Where this process may
// not, the new file keeps the installer's: that loses nothing but the
// owner, unless fi has a setuid or setgid bit, which copyMetadata checks.
func matchOwner(name string, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if cur, err := os.Stat(name); err == nil {
		if c, ok := cur.Sys().(*syscall.Stat_t); ok && c.Uid == st.Uid && c.Gid == st.Gid {
			return nil
		}
	}
	os.Lchown(name, int(st.Uid), int(st.Gid))
	return nil
}

// transient reports whether a failed rename is worth retrying.
func transient(err error) bool { return errors.Is(err, syscall.EBUSY) }

// checkSticky refuses a target in a sticky directory (as /tmp) that
// neither this user nor root owns, with the file owned by someone else:
// the kernel refuses the rename, and only after the whole build.
func checkSticky(target string, fi fs.FileInfo) error {
	dfi, err := os.Stat(filepath.Dir(target))
	if err != nil || dfi.Mode()&fs.ModeSticky == 0 || os.Geteuid() == 0 {
		return nil
	}
	if o := fsutil.Owner(fi); o != os.Geteuid() && fsutil.Owner(dfi) != os.Geteuid() {
		return fmt.Errorf("%w: it belongs to uid %d in the sticky directory %s, where only its owner may replace it", fs.ErrPermission, o, filepath.Dir(target))
	}
	return nil
}

// disarm takes from a backup what made its file privileged (the setuid
// and setgid bits, file capabilities): an old build must not stay
// privileged beside the new one. A rollback gives them back, from the
// executable it replaces. As when a package manager removes a setuid
// file, other hard links to the old file, if any, lose them too. Anything
// but a regular file is no backup a swap made (CheckBackupFile refuses
// it), and is not followed: a symlink named as a backup would otherwise
// have the capabilities of the file it points to removed.
func disarm(backup string) error {
	fi, err := os.Lstat(backup)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	if fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid) != 0 {
		if err := os.Chmod(backup, fi.Mode().Perm()); err != nil {
			return err
		}
	}
	return removeCapabilities(backup)
}

// CheckBackupFile refuses a backup that an install did not keep: one that
// belongs to neither the executable's owner nor this user, or that more
// users may write than may write the executable.
func CheckBackupFile(target, backup string) error {
	fi, err := os.Lstat(backup)
	if err != nil {
		return err
	}
	tfi, err := os.Stat(target)
	if err != nil {
		return nil // the executable is gone: any backup of this program beats it
	}
	owner := fsutil.Owner
	if !fi.Mode().IsRegular() || (owner(fi) != owner(tfi) && owner(fi) != os.Geteuid()) || fi.Mode().Perm()&^tfi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("it (mode %v, uid %d) is not one an install kept: it is not a regular file of the executable's owner or of this user, writable by no more users than the executable (mode %v); remove it", fi.Mode(), owner(fi), tfi.Mode())
	}
	return nil
}

// RemoveAsides does nothing on Unix, where a swap renames nothing aside.
func RemoveAsides(exe string) {}
