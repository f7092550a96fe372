package selfcompile

// privileged is false on Windows, whose executables carry no privileges
// of their own.
func privileged() bool { return false }
