//go:build windows

package selfcompile

import "io/fs"

// isPrivate reports whether fi may be trusted as part of a cached
// toolchain. On Windows the user's cache directory is private to the user
// by its ACL, which the library does not change; it checks the file is not
// read-only-flagged oddly and trusts the ACL.
func isPrivate(fi fs.FileInfo) bool { return fi.Mode().Perm()&0o200 != 0 || fi.IsDir() }
