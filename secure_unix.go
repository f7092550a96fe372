//go:build unix && !linux

package selfcompile

import "os"

// privileged reports whether the process runs with privileges from its
// file (setuid or setgid). Such a process must not trust its environment.
func privileged() bool {
	return os.Getuid() != os.Geteuid() || os.Getgid() != os.Getegid()
}
