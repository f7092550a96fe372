//go:build unix

package proc

import (
	"os"
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

// Exec runs the program at path in place of this process, with the same
// arguments and environment: the process keeps its ID, so a service
// manager sees the same service running the new program. It returns only
// on failure.
func Exec(path string) error {
	return syscall.Exec(path, os.Args, os.Environ())
}

// Quit asks a started command for its goroutines' stacks and its end,
// with SIGQUIT (a Go program prints them and exits).
func Quit(cmd *exec.Cmd) error {
	if cmd.Process == nil {
		return nil
	}
	return cmd.Process.Signal(syscall.SIGQUIT)
}
