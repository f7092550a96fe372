//go:build !linux

package selfcompile

// releasePages does nothing here; see release_linux.go.
func releasePages(s string, off, end int) {}
