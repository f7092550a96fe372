package selfcompile

// keepXattr reports whether an extended attribute of the old binary is
// given to the new one. On Linux, all are.
func keepXattr(name string) bool { return true }
