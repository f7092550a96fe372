//go:build unix

package fsutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// IsPrivate reports whether fi is owned by this user and not writable by
// anyone else: the condition for trusting what the cache holds.
func IsPrivate(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid() && fi.Mode().Perm()&0o022 == 0
}

// CheckPrivateDir checks that dir is a directory that this user owns and
// no one else may write, in a parent that no one else may rename it out
// of: its owner is this user or root, and it is not writable by others or
// has the sticky bit.
func CheckPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (%v)", dir, fi.Mode().Type())
	}
	if !IsPrivate(fi) {
		return fmt.Errorf("%s belongs to uid %d with mode %v; it must belong to uid %d and be writable by no one else", dir, Owner(fi), fi.Mode().Perm(), os.Geteuid())
	}
	parent := filepath.Dir(dir)
	pfi, err := os.Stat(parent)
	if err != nil {
		return err
	}
	if o := Owner(pfi); (o != os.Geteuid() && o != 0) || (pfi.Mode().Perm()&0o022 != 0 && pfi.Mode()&fs.ModeSticky == 0) {
		return fmt.Errorf("its parent %s belongs to uid %d with mode %v: another user could replace the cache", parent, o, pfi.Mode())
	}
	return nil
}

// Owner returns the user ID that owns fi's file.
func Owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

// Group returns the group ID of fi's file.
func Group(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Gid)
	}
	return -1
}
