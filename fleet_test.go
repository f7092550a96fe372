package selfcompile_test

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestCacheProgFleet: installs honour GOCACHEPROG, so machines that share
// a build cache through a cache program compile a plugin set once. Here
// two caches of their own (two machines) share the store of
// testdata/cacheprog: the first install compiles the plugin and main, the
// second, of the same plugin into a copy of the same binary, compiles
// nothing; and what it got from the shared cache is in its own, in the
// go command's format: an install there without GOCACHEPROG compiles
// nothing either.
func TestCacheProgFleet(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	work := tempDir(t)
	prog := cacheProgram(t, work)
	store := filepath.Join(work, "store")
	seed := filepath.Join(e2e.seed, "go-selfcompile", "build") // the standard library, compiled once by the tests
	cacheProg := "GOCACHEPROG=" + prog + " " + store + " " + seed
	plug := filepath.Join(work, "fleetplug")
	writePlugin(t, plug, "example.com/fleetplug", "fleetplug activated.")
	compiled := func(machine, cache string, env ...string) int {
		bin := filepath.Join(work, machine, "example-abinary")
		copyBinary(t, e2e.abinary, bin)
		_, errOut, err := run(t, bin, append(env, "XDG_CACHE_HOME="+cache, "GO_SELFCOMPILE_PROGRESS=1"), "plugin", "add", plug)
		if err != nil {
			t.Fatalf("install on %s: %v\n%s", machine, err, errOut)
		}
		if out := mustRun(t, bin); out != "fleetplug activated.\nJust doing binary things\n" {
			t.Fatalf("on %s after the install: %q", machine, out)
		}
		if strings.Contains(errOut, "shared build cache") {
			t.Errorf("on %s the shared build cache failed:\n%s", machine, errOut)
		}
		return strings.Count(errOut, "] build: compiled ")
	}
	if n := compiled("machine1", freshCache(t), cacheProg); n == 0 {
		t.Fatal("the first install compiled nothing: the test proves nothing")
	}
	machine2 := freshCache(t)
	if n := compiled("machine2", machine2, cacheProg); n != 0 {
		t.Errorf("the second machine compiled %d packages; the cache program had them", n)
	}
	if n := compiled("machine2-again", machine2); n != 0 {
		t.Errorf("without GOCACHEPROG, the second machine compiled %d packages that it had got from the shared cache", n)
	}
	log, _ := os.ReadFile(filepath.Join(store, "requests.log"))
	if !strings.Contains(string(log), " put") || !strings.Contains(string(log), " hit") {
		t.Errorf("the cache program was not used as a cache:\n%.2000s", log)
	}
}

// cacheProgram builds testdata/cacheprog into dir.
func cacheProgram(t *testing.T, dir string) string {
	t.Helper()
	prog := filepath.Join(dir, "cacheprog")
	if out, err := command(e2e.repo, nil, "go", "build", "-o", prog, "./testdata/cacheprog"); err != nil {
		t.Fatalf("building the cache program: %v\n%s", err, out)
	}
	return prog
}

// TestSharedCacheDown: an install whose GOCACHEPROG is a fleet's cache
// client (testdata/cacheprog with a server URL) finishes, with the plugin
// compiled locally and the binary right, when the server refuses
// connections, accepts them and never answers (the client has no
// timeout), or answers with outputs that are not what they claim; and it
// says that the shared cache failed, and why.
func TestSharedCacheDown(t *testing.T) {
	setupE2E(t)
	t.Parallel() // its own binaries; waiting for the hung server, it leaves the cores to others
	prog := cacheProgram(t, tempDir(t))
	var refused string // an address nothing listens on
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		refused = ln.Addr().String()
		ln.Close()
	}
	hang, _ := net.Listen("tcp", "127.0.0.1:0")
	t.Cleanup(func() { hang.Close() })
	var accepted atomic.Int32
	go func() {
		for {
			c, err := hang.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			defer c.Close() // never answered
		}
	}()
	var lied atomic.Int32
	garbage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == "GET" {
			lied.Add(1)
			fmt.Fprintf(w, "%x 5\nbogus", sha256.Sum256([]byte("the real output"))) // an output that is not its ID's
		}
	}))
	t.Cleanup(garbage.Close)
	for _, tc := range []struct {
		name, server, why string
		happened          func() bool
	}{
		{"refused", refused, "connection refused", func() bool { return true }},
		{"hangs", hang.Addr().String(), "did not answer a get within", func() bool { return accepted.Load() > 0 }},
		{"garbage", strings.TrimPrefix(garbage.URL, "http://"), "does not hash to its output ID", func() bool { return lied.Load() > 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := installedCopy(t)
			plug := filepath.Join(tempDir(t), "downplug")
			writePlugin(t, plug, "example.com/downplug"+tc.name, "downplug activated.")
			start := time.Now()
			_, errOut, err := run(t, bin, []string{"GOCACHEPROG=" + prog + " http://" + tc.server}, "plugin", "add", plug)
			if err != nil {
				t.Fatalf("install with the shared cache %s: %v\n%s", tc.name, err, errOut)
			}
			if out := mustRun(t, bin); out != "downplug activated.\nJust doing binary things\n" {
				t.Fatalf("after the install: %q", out)
			}
			if !tc.happened() {
				t.Fatalf("the server saw no request: the test proves nothing\n%s", errOut)
			}
			if !strings.Contains(errOut, "The shared build cache (GOCACHEPROG) ") || !strings.Contains(errOut, tc.why) {
				t.Errorf("the install does not say that the shared cache failed (%s):\n%s", tc.why, errOut)
			}
			t.Logf("installed in %v", time.Since(start).Round(time.Millisecond))
		})
	}
}
