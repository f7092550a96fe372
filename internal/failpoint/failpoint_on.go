//go:build selfcompile_failpoint

package failpoint

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/proc"
)

// Env is the variable that arms a failpoint.
const Env = "GO_SELFCOMPILE_FAILPOINT"

// armed is the failpoint this process stops at, and how; it is read once,
// at start-up.
var armed = func() (f struct{ name, action string }) {
	if proc.Privileged() {
		return f
	}
	f.name, f.action, _ = strings.Cut(os.Getenv(Env), ":")
	if f.action == "" {
		f.action = "kill"
	}
	return f
}()

// Hit stops the process at the point name if it is the armed one. Points
// inside loops take a count, as in Hit(ctx, "compiled", 100): the name is
// then "compiled.100".
func Hit(ctx context.Context, name string, count ...int) {
	if armed.name == "" {
		return
	}
	if len(count) > 0 {
		name = fmt.Sprintf("%s.%d", name, count[0])
	}
	if name != armed.name {
		return
	}
	fmt.Fprintf(os.Stderr, "selfcompile: failpoint %s %s\n", name, armed.action)
	if armed.action == "pause" {
		go func() {
			bufio.NewReader(os.Stdin).ReadString('\n')
			resume <- struct{}{}
		}()
		select {
		case <-ctx.Done():
		case <-resume:
		}
		return
	}
	killSelf()
}

// Func returns Hit bound to ctx, for the packages that take their
// failpoints as a function.
func Func(ctx context.Context) func(name string) {
	return func(name string) { Hit(ctx, name) }
}

// Disarm returns env without the variable that arms a failpoint, for a
// process that must not stop at one: the probe of a new binary.
func Disarm(env []string) []string {
	return gocmd.Without(env, Env)
}

// resume is how a paused failpoint learns that its test lets it go on.
var resume = make(chan struct{}, 1)

// killSelf ends the process at once, as SIGKILL does.
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill()
	}
	select {} // the kill is on its way
}
