package swap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// CheckReplaceable checks, before any work, that this process may replace
// target with a file that keeps everything that makes it what it is: it
// may create files in the directory; a sticky directory lets it rename
// over the file; and the new file can be given the target's owner, setuid
// and setgid bits and extended attributes (file capabilities among them).
// Anything that would be lost is named.
func CheckReplaceable(target string) error {
	fi, err := os.Stat(target)
	if err != nil {
		return err
	}
	check, err := os.CreateTemp(filepath.Dir(target), sidePrefix(target, checkTag))
	if err != nil {
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return err
	}
	check.Close()
	defer os.Remove(check.Name())
	if err := checkSticky(target, fi); err != nil {
		return err
	}
	return copyMetadata(check.Name(), target, fi)
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
	owner, group := fsutil.Owner, fsutil.Group
	if got.Mode()&bits != bits || (bits&fs.ModeSetuid != 0 && owner(got) != owner(fi)) || (bits&fs.ModeSetgid != 0 && group(got) != group(fi)) {
		return fmt.Errorf("%w: the new binary would lose its setuid or setgid bit (mode %v, owner %d:%d): rerun as root or as its owner", fs.ErrPermission, fi.Mode(), owner(fi), group(fi))
	}
	return nil
}

// keepXattr reports whether a swap gives the new binary an extended
// attribute of the old one, on goos. All are kept, but on macOS the
// quarantine and provenance attributes: the new binary was built on this
// machine, not downloaded, and with them Gatekeeper would check the
// ad-hoc signature that the Go linker gives it, and refuse to run it.
func keepXattr(goos, name string) bool {
	return goos != "darwin" || (name != "com.apple.quarantine" && name != "com.apple.provenance")
}
