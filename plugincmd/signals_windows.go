package plugincmd

import (
	"os"
	"syscall"
)

// stopSignals cancel a change: Ctrl-C, and the console closing.
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}
