// Package failpoint lets a test stop an install at a named point,
// deterministically, and prove where it stopped.
//
// Failpoints are compiled in only with the build tag selfcompile_failpoint,
// which the end-to-end tests build their hosts with (an install rebuilds a
// host with the tags it was built with, so its rebuilds keep them). In
// every other build, Hit and Func do nothing and the compiler drops their
// calls: a shipped host reads no variable and carries none of this code.
//
// With the tag, the environment variable GO_SELFCOMPILE_FAILPOINT=NAME[:ACTION]
// names the point; at it, the process prints "selfcompile: failpoint NAME
// ACTION" on stderr, then kills itself with SIGKILL (ACTION kill, the
// default), or waits until its context ends or a line or the end comes on
// its standard input (pause), which is how a test lets it go on. A process
// privileged by its file ignores the variable, as it ignores every other
// GO_SELFCOMPILE_ variable.
package failpoint
