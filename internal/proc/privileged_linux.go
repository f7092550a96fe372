package proc

import (
	"os"

	"golang.org/x/sys/unix"
)

// Privileged reports whether the process runs with privileges from its
// file: setuid, setgid or file capabilities (the kernel's AT_SECURE). Such
// a process must not trust its environment.
func Privileged() bool {
	if auxv, err := unix.Auxv(); err == nil {
		for _, kv := range auxv {
			if kv[0] == atSecure {
				return kv[1] != 0
			}
		}
	}
	return os.Getuid() != os.Geteuid() || os.Getgid() != os.Getegid()
}

// atSecure is AT_SECURE, the auxiliary vector entry that says the kernel
// raised the process's privileges at exec (linux/auxvec.h).
const atSecure = 23
