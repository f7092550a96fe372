// Package proc starts the child processes of an install: the go command
// and the programs being verified. A child runs in a process group of its
// own, which is killed as a whole when its context ends, so that nothing it
// started outlives the install; on Linux it also dies with the installer.
package proc

import (
	"context"
	"os/exec"
	"time"
)

// Command is exec.CommandContext for a child whose whole process group is
// killed when ctx ends or when Kill is called.
func Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return Kill(cmd) }
	cmd.WaitDelay = 2 * time.Second
	return cmd
}
