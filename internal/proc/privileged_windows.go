package proc

// Privileged is false on Windows, whose executables carry no privileges
// of their own.
func Privileged() bool { return false }
