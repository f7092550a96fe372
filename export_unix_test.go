//go:build unix

package selfcompile

// Test helpers that the end-to-end tests, in package selfcompile_test,
// share with this package's.
var (
	RunAsNobody = runAsNobody
	OpenDir     = openDir
)

const AsNobodyEnv = asNobodyEnv
