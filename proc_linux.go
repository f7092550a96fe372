//go:build linux

package selfcompile

import "syscall"

// childAttr makes a child process die with the installer, so that a killed
// install leaves no go command writing into its directories.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
