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
// The program's hook calls it first thing.
func Main() {
	v := os.Getenv(Env)
	out := os.NewFile(3, "protocol")
	if v == "" || out == nil {
		return
	}
	if _, err := out.Stat(); err != nil {
		return
	}
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
