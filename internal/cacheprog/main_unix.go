//go:build unix

package cacheprog

import (
	"encoding/json"
	"fmt"
	"os"
	"syscall"
)

const haveShell = true

// Main serves as the proxy and exits, if the process was started as one
// by Command: Env holds a configuration and file descriptor 3 is open.
// The program's hook, and the generator, call it first thing.
func Main() {
	v := os.Getenv(Env)
	var st syscall.Stat_t
	if v == "" || syscall.Fstat(3, &st) != nil {
		return // not os.NewFile before this: its finalizer would close the program's own descriptor 3
	}
	out := os.NewFile(3, "protocol")
	syscall.CloseOnExec(3) // not the shared cache program's: the go command waits for it to close
	var cfg Config
	err := json.Unmarshal([]byte(v), &cfg)
	if err == nil {
		err = Serve(os.Stdin, out, cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-selfcompile: build cache:", err)
		os.Exit(1)
	}
	os.Exit(0)
}
