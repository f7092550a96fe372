package testutil

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/known"
)

// PrivateUserCache gives this test process, and the programs it starts, a
// user cache directory of their own, so that nothing a test runs with the
// default cache (SelfCompile.CacheDir unset) writes into the user's: it
// sets what os.UserCacheDir reads (XDG_CACHE_HOME; HOME on macOS,
// LocalAppData on Windows), and pins the go command's own caches and
// settings (GOCACHE, GOMODCACHE, GOPATH; GOENV on macOS) where they were, so that
// the go commands the tests run build as warm as before. It returns a
// check that fails if this test binary was nevertheless remembered in the
// user's go-selfcompile cache, which any install, plan or list of it with
// the default cache does, and a cleanup that removes the private
// directory.
func PrivateUserCache() (check func() error, cleanup func(), err error) {
	real, err := os.UserCacheDir()
	if err != nil {
		return nil, nil, err
	}
	dir, err := os.MkdirTemp("", "selfcompile-usercache-")
	if err != nil {
		return nil, nil, err
	}
	pin := []string{"GOCACHE", "GOMODCACHE", "GOPATH"}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		// The user's go env file is under HOME there; elsewhere GOENV
		// stays unset, so that a test may give its programs one of their
		// own (XDG_CONFIG_HOME).
		pin = append(pin, "GOENV")
	}
	if out, err := exec.Command("go", append([]string{"env", "-json"}, pin...)...).Output(); err == nil {
		var env map[string]string
		if json.Unmarshal(out, &env) == nil {
			for k, v := range env {
				os.Setenv(k, v)
			}
		}
	}
	switch runtime.GOOS {
	case "windows":
		os.Setenv("LocalAppData", dir)
	case "darwin", "ios":
		os.Setenv("HOME", dir)
	default:
		os.Setenv("XDG_CACHE_HOME", dir)
	}
	check = func() error {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		store := known.Store{Dir: filepath.Join(real, "go-selfcompile", "known")}
		var v json.RawMessage
		if store.Get(exe, known.OfPath(exe), &v) {
			return fmt.Errorf("a test wrote into the user's cache: %s remembers this test binary, %s", store.Dir, exe)
		}
		return nil
	}
	return check, func() { fsutil.RemoveAll(dir) }, nil
}

// RunPrivate runs a package's tests (m.Run) with a private user cache
// (PrivateUserCache), and returns their exit code: a failure if the user's
// own cache remembers the test binary after them.
func RunPrivate(m interface{ Run() int }) int {
	check, cleanup, err := PrivateUserCache()
	if err != nil {
		fmt.Fprintln(os.Stderr, "a private user cache for the tests:", err)
		return 1
	}
	defer cleanup()
	code := m.Run()
	if err := check(); err != nil && code == 0 {
		fmt.Fprintln(os.Stderr, "FAIL:", err)
		code = 1
	}
	return code
}
