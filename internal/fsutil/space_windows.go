package fsutil

import (
	"errors"
	"path/filepath"
	"strings"

	"golang.org/x/sys/windows"
)

// IsNoSpace reports whether err is a write that failed because its disk
// is full.
func IsNoSpace(err error) bool {
	return errors.Is(err, windows.ERROR_DISK_FULL) || errors.Is(err, windows.ERROR_HANDLE_DISK_FULL)
}

// SameDisk reports whether the paths a and b are on one volume.
func SameDisk(a, b string) bool {
	return strings.EqualFold(filepath.VolumeName(a), filepath.VolumeName(b))
}
