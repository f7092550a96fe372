package selfcompile

import (
	"os"
	"os/exec"
)

// Restart makes the new binary take over after an install: it starts
// Target (by default the running executable's path, which now names the
// new binary) with the same arguments, environment and standard streams,
// and exits this process when it has started. Windows cannot execute a
// program in place of a process. It returns only on failure.
func (c *SelfCompile) Restart() error {
	target, err := c.target()
	if err != nil {
		return err
	}
	cmd := exec.Command(target, os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		return err
	}
	os.Exit(0)
	return nil
}
