package proc

import (
	"os/exec"
	"syscall"
)

// sysProcAttr starts the child in a process group of its own.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
}

// Kill kills a started command. Windows has no signal for a process
// group; the children of the go command end when their pipes close.
func Kill(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Kill()
}
