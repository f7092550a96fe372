package selfcompile_test

import (
	"os"
	"testing"
)

// TestCrossBuild builds the library, the generator and the example, and
// type-checks the tests, for Windows and macOS: the platform halves of
// the swap, the lock and the disk checks must at least compile there.
func TestCrossBuild(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("cross-builds: skipped with -short")
	}
	root, _ := os.Getwd()
	for _, p := range []struct{ goos, goarch string }{{"windows", "amd64"}, {"darwin", "arm64"}} {
		env := []string{"GOOS=" + p.goos, "GOARCH=" + p.goarch, "CGO_ENABLED=0"}
		for _, args := range [][]string{
			{"build", "-o", os.DevNull, "./cmd/go-selfcompile"},
			{"build", "-o", os.DevNull, "./example/abinary"},
			{"vet", "./..."},
		} {
			if out, err := command(root, env, "go", args...); err != nil {
				t.Errorf("%s/%s: go %v: %v\n%s", p.goos, p.goarch, args, err, out)
			}
		}
	}
}
