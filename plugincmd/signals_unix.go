//go:build unix

package plugincmd

import (
	"os"
	"syscall"
)

// stopSignals cancel a change: an interrupt, a termination, the terminal
// or SSH session closing (SIGHUP), and SIGQUIT.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}
