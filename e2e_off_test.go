//go:build !e2e

package selfcompile_test

// e2eTests says whether the end-to-end tests run: without the build tag
// e2e, go test ./... is the fast tier, and they skip.
const e2eTests = false
