//go:build e2e

package selfcompile_test

// e2eTests says whether the end-to-end tests run: the build tag e2e, which
// make test sets, turns them on.
const e2eTests = true
