package selfcompile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCacheProgFleet: installs honour GOCACHEPROG, so machines that share
// a build cache through a cache program compile a plugin set once. Here
// two caches of their own (two machines) share the store of
// testdata/cacheprog: the first install compiles the plugin and main, the
// second, of the same plugin into a copy of the same binary, compiles
// nothing.
func TestCacheProgFleet(t *testing.T) {
	setupE2E(t)
	work := tempDir(t)
	prog := filepath.Join(work, "cacheprog")
	if out, err := command(e2e.repo, nil, "go", "build", "-o", prog, "./testdata/cacheprog"); err != nil {
		t.Fatalf("building the cache program: %v\n%s", err, out)
	}
	store := filepath.Join(work, "store")
	seed := filepath.Join(e2e.seed, "go-selfcompile", "build") // the standard library, compiled once by the tests
	cacheProg := "GOCACHEPROG=" + prog + " " + store + " " + seed
	plug := filepath.Join(work, "fleetplug")
	writePlugin(t, plug, "example.com/fleetplug", "fleetplug activated.")
	compiled := func(machine string) int {
		bin := filepath.Join(work, machine, "example-abinary")
		copyBinary(t, e2e.abinary, bin)
		_, errOut, err := run(t, bin, []string{cacheProg, "XDG_CACHE_HOME=" + freshCache(t), "GO_SELFCOMPILE_PROGRESS=1"}, "plugin", "add", plug)
		if err != nil {
			t.Fatalf("install on %s: %v\n%s", machine, err, errOut)
		}
		if out := mustRun(t, bin); out != "fleetplug activated.\nJust doing binary things\n" {
			t.Fatalf("on %s after the install: %q", machine, out)
		}
		return strings.Count(errOut, "] build: compiled ")
	}
	if n := compiled("machine1"); n == 0 {
		t.Fatal("the first install compiled nothing: the test proves nothing")
	}
	if n := compiled("machine2"); n != 0 {
		t.Errorf("the second machine compiled %d packages; the cache program had them", n)
	}
	log, _ := os.ReadFile(filepath.Join(store, "requests.log"))
	if !strings.Contains(string(log), " put") || !strings.Contains(string(log), " hit") {
		t.Errorf("the cache program was not used as a cache:\n%.2000s", log)
	}
}
