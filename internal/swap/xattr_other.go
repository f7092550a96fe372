//go:build unix && !linux && !darwin

package swap

// copyXattrs does nothing where the library does not read extended
// attributes.
func copyXattrs(dst, src string) error { return nil }

// removeCapabilities does nothing where the library does not read
// extended attributes.
func removeCapabilities(string) error { return nil }
