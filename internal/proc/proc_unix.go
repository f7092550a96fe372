//go:build unix

package proc

import (
	"os/exec"
	"syscall"
)

// Kill kills the process group of a started command.
func Kill(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}
