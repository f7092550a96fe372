package selfcompile

// keepXattr reports whether a swap gives the new binary an extended
// attribute of the old one, on goos. All are kept, but on macOS the
// quarantine and provenance attributes: the new binary was built on this
// machine, not downloaded, and with them Gatekeeper would check the
// ad-hoc signature that the Go linker gives it, and refuse to run it.
func keepXattr(goos, name string) bool {
	return goos != "darwin" || (name != "com.apple.quarantine" && name != "com.apple.provenance")
}
