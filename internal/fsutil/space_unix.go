//go:build !windows

package fsutil

import (
	"errors"
	"os"
	"syscall"
)

// IsNoSpace reports whether err is a write that failed because its disk
// is full.
func IsNoSpace(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// SameDisk reports whether the paths a and b are on one file system.
func SameDisk(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	if err1 != nil || err2 != nil {
		return false
	}
	sa, ok1 := fa.Sys().(*syscall.Stat_t)
	sb, ok2 := fb.Sys().(*syscall.Stat_t)
	return ok1 && ok2 && sa.Dev == sb.Dev
}
