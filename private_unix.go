//go:build !windows

package selfcompile

import (
	"io/fs"
	"os"
	"syscall"
)

// isPrivate reports whether fi is owned by this user and not writable by
// anyone else: the condition for trusting a cached toolchain.
func isPrivate(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Getuid() && fi.Mode().Perm()&0o022 == 0
}
