//go:build !selfcompile_failpoint

package failpoint

import "context"

// Hit does nothing: failpoints are compiled in only with the build tag
// selfcompile_failpoint.
func Hit(ctx context.Context, name string, count ...int) {}

// Func returns nil, which the packages that take their failpoints as a
// function skip: failpoints are compiled in only with the build tag
// selfcompile_failpoint.
func Func(ctx context.Context) func(name string) { return nil }

// Disarm returns env as it is: without the build tag
// selfcompile_failpoint, no variable arms a failpoint.
func Disarm(env []string) []string { return env }
