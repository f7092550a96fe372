//go:build unix

package selfcompile

import (
	"os"
	"syscall"
)

// Restart makes the new binary take over after an install: it executes
// Target (by default the running executable's path, which now names the
// new binary) in place of this process, with the same arguments and
// environment. On Unix the process keeps its ID, so a service manager
// such as systemd sees the same service running the new binary. It
// returns only on failure.
func (c *SelfCompile) Restart() error {
	target, err := c.target()
	if err != nil {
		return err
	}
	return syscall.Exec(target, os.Args, os.Environ())
}
