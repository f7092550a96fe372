package proc

import (
	"os"
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

// Exec starts the program at path with this process's arguments,
// environment and standard streams, and exits this process once it has
// started: Windows cannot run a program in place of a process. It returns
// only on failure.
func Exec(path string) error {
	cmd := exec.Command(path, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	os.Exit(0)
	return nil
}

// Quit kills a started command: Windows has no signal that asks a Go
// program for its goroutines' stacks.
func Quit(cmd *exec.Cmd) error { return Kill(cmd) }
