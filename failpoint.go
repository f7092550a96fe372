package selfcompile

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
)

// Failpoints let a test stop an install at a named point,
// deterministically, and prove where it stopped. The environment variable
// GO_SELFCOMPILE_FAILPOINT=NAME[:ACTION] names the point; at it, the
// install prints "selfcompile: failpoint NAME ACTION" on stderr, then
// kills itself with SIGKILL (ACTION kill, the default), or waits until its
// context ends or a line or the end comes on its standard input (pause),
// which is how a test lets it go on. A process privileged by its file ignores the
// variable, as it ignores every other GO_SELFCOMPILE_ variable.
const failpointEnv = "GO_SELFCOMPILE_FAILPOINT"

// armed is the failpoint this process stops at, and how; it is read once,
// at start-up.
var armed = func() (f struct{ name, action string }) {
	if privileged() {
		return f
	}
	f.name, f.action, _ = strings.Cut(os.Getenv(failpointEnv), ":")
	if f.action == "" {
		f.action = "kill"
	}
	return f
}()

// failpoint stops the install at the point name if it is the armed one.
// Points inside loops take a count, as in failpoint(ctx, "toolchain", 100):
// the name is then "toolchain.100".
func failpoint(ctx context.Context, name string, count ...int) {
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

// resume is how a paused failpoint learns that its test lets it go on.
var resume = make(chan struct{}, 1)

// killSelf ends the process at once, as SIGKILL does.
func killSelf() {
	if p, err := os.FindProcess(os.Getpid()); err == nil {
		p.Kill()
	}
	select {} // the kill is on its way
}
