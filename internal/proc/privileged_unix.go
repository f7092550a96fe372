//go:build unix && !linux

package proc

import "os"

// Privileged reports whether the process runs with privileges from its
// file (setuid or setgid). Such a process must not trust its environment.
func Privileged() bool {
	return os.Getuid() != os.Geteuid() || os.Getgid() != os.Getegid()
}
