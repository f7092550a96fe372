// Package hook is what the code that go-selfcompile generates calls when
// a program starts: the stub in package main registers the bundles the
// program embeds and the record of its plugins. Programs do not use it;
// package selfcompile reads what it registered.
package hook

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/shazow/go-selfcompile/internal/cacheprog"
	"github.com/shazow/go-selfcompile/internal/proc"
	"github.com/shazow/go-selfcompile/internal/swap"
)

// ProbeEnv is the variable that starts a program as a verification probe:
// "<nonce> <file>".
const ProbeEnv = "GO_SELFCOMPILE_PROBE"

// A program that an install started as its build cache (package
// internal/cacheprog) serves as one and exits, before main runs. Packages
// are initialized in import path order once their imports are, so the
// init of a plugin whose path sorts before this package's (example.com/...)
// may run first in that process too, with its standard output sent to
// standard error. A process privileged by its file is never started as one
// and ignores the variable.
func init() {
	if !proc.Privileged() {
		cacheprog.Main()
	}
}

var registered struct {
	shared, toolchain, plugins, record string
}

// Register is called by the generated stub, from an init function of
// package main, with the embedded bundles and the build record. If the
// process was started as a verification probe, it answers and exits:
// main's init runs after every plugin's init, so the answer proves that
// they all ran.
func Register(shared, toolchain, plugins, record string) {
	answerProbe(record)
	if self, err := Executable(); err == nil { // before any swap can rename it
		swap.RemoveAsides(self)
	}
	registered.shared, registered.toolchain, registered.plugins, registered.record = shared, toolchain, plugins, record
}

// Registered returns what Register was given: all empty in a program that
// go-selfcompile did not prepare.
func Registered() (shared, toolchain, plugins, record string) {
	return registered.shared, registered.toolchain, registered.plugins, registered.record
}

// Executable is the running executable as it was when the program started,
// symlinks resolved. Register resolves it before any swap: afterwards
// os.Executable would name the file that was renamed aside.
var Executable = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("cannot find the running executable: %w", err)
	}
	return filepath.EvalSymlinks(exe)
})

// answerProbe answers a probe and exits, if this process was started as
// one: it writes "<nonce> <record>" to the new file the variable names.
// A process privileged by its file ignores the variable.
func answerProbe(record string) {
	v := os.Getenv(ProbeEnv)
	nonce, file, ok := strings.Cut(v, " ")
	if v == "" || proc.Privileged() {
		return
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if !ok || err != nil {
		fmt.Fprintf(os.Stderr, "selfcompile: %s is set, but its answer file cannot be created: %v\n", ProbeEnv, err)
		os.Exit(2)
	}
	_, err = fmt.Fprintf(f, "%s %s\n", nonce, record)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}
