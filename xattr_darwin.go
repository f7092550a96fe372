package selfcompile

// keepXattr reports whether an extended attribute of the old binary is
// given to the new one. On macOS, the quarantine attribute is not: the new
// binary was built on this machine, not downloaded, and with it Gatekeeper
// would check the ad-hoc signature that the Go linker gives it, and refuse
// to run it.
func keepXattr(name string) bool {
	return name != "com.apple.quarantine" && name != "com.apple.provenance"
}
