package fsutil

import "io/fs"

// IsPrivate reports whether fi may be trusted as part of the cache. On
// Windows the user's cache directory is private to the user by its ACL,
// which the library does not change.
func IsPrivate(fi fs.FileInfo) bool { return true }

// CheckPrivateDir trusts the ACL of the user's cache directory on Windows.
func CheckPrivateDir(dir string) error { return nil }

// Owner is -1 on Windows, where files have ACLs rather than owner IDs.
func Owner(fs.FileInfo) int { return -1 }

// Group is -1 on Windows.
func Group(fs.FileInfo) int { return -1 }
