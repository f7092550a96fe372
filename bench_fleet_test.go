package selfcompile_test

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sharedCache is a gocached server on the loopback, the shared build cache
// of a fleet, and the go-cacher client that points a machine at it.
type sharedCache struct {
	dir, client, url, metrics string
	cmd                       *exec.Cmd
}

// startSharedCache builds go-tool-cache's gocached and go-cacher from the
// module bench/fleet (which holds them so that no host downloads them) and
// starts gocached with an empty cache.
func startSharedCache(b *testing.B, work string) *sharedCache {
	b.Helper()
	bin := filepath.Join(work, "fleet-tools")
	root, _ := os.Getwd()
	if out, err := command(filepath.Join(root, "bench", "fleet"), nil, "go", "build", "-o", bin+"/",
		"github.com/bradfitz/go-tool-cache/cmd/gocached", "github.com/bradfitz/go-tool-cache/cmd/go-cacher"); err != nil {
		b.Fatalf("building gocached and go-cacher: %v\n%s", err, out)
	}
	s := &sharedCache{dir: filepath.Join(work, "gocached"), client: filepath.Join(bin, "go-cacher")}
	listen, debug := freePort(b), freePort(b)
	s.url, s.metrics = "http://"+listen, "http://"+debug+"/metrics"
	s.cmd = exec.Command(filepath.Join(bin, "gocached"), "-listen", listen, "-debug-listen", debug, "-cache-dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.cmd.Process.Kill(); s.cmd.Wait() })
	for range 100 {
		if resp, err := http.Get(s.metrics); err == nil {
			resp.Body.Close()
			return s
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatal("gocached does not answer")
	return nil
}

// freePort returns a loopback address nothing listens on.
func freePort(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// env is a machine's GOCACHEPROG: go-cacher with a cache directory of the
// machine's own, pointed at the server.
func (s *sharedCache) env(home string) string {
	return "GOCACHEPROG=" + s.client + " -cache-dir=" + filepath.Join(home, "go-cacher") + " -cache-server=" + s.url
}

// served returns the bytes the server has sent in answers to gets.
func (s *sharedCache) served(b *testing.B) int64 {
	b.Helper()
	resp, err := http.Get(s.metrics)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "gocached_get_bytes "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return int64(f)
		}
	}
	b.Fatal("gocached reports no gocached_get_bytes")
	return 0
}

// BenchmarkFleet (make bench-fleet) rolls plugins out to fresh machines
// that share a build cache: gocached on the loopback, go-cacher as each
// machine's GOCACHEPROG. Each machine is a fresh HOME with a fresh cache
// and its own copy of caddy wrapped with go-selfcompile, generated without
// --warm-cache; each installs, offline but for the shared cache, local
// caddy plugins. It prints, per machine: the install's time and its ratio
// to a cold and a warm go build -trimpath, the bytes it got from the
// shared cache, and the server's disk. Five machines install one plugin
// set, then five more two sets in turn.
func BenchmarkFleet(b *testing.B) {
	if os.Getenv("SELFCOMPILE_BENCH_FLEET") == "" {
		b.Skip("make bench-fleet: it downloads caddy and takes many minutes")
	}
	work := benchDir(b)
	host := caddyHost(b, work)
	if out, err := command(filepath.Join(host, caddyMain), nil, "go", "tool", "go-selfcompile", "-q"); err != nil {
		b.Fatalf("generating: %v\n%s", err, out)
	}
	bin := filepath.Join(work, "caddy-bin")
	timed(b, host, nil, "go", "build", "-trimpath", "-o", bin, "./"+caddyMain)
	setA, setB := filepath.Join(work, "caddy-fleeta"), filepath.Join(work, "caddy-fleetb")
	caddyExtension(b, setA, "fleeta")
	caddyExtension(b, setB, "fleetb")
	cold, warm, _ := caddyFloors(b, work, host, setA)
	shared := startSharedCache(b, work)

	var t table
	t.add("floor: cold go build -trimpath", secs(cold), "1.00 of cold")
	t.add("floor: warm go build -trimpath (main changed, median of 3)", secs(warm), "1.00 of warm")
	machine := func(i int, set string) {
		home := filepath.Join(work, fmt.Sprintf("machine%d", i))
		mbin := filepath.Join(home, "bin", "caddy")
		copyBinary(b, bin, mbin)
		before := shared.served(b)
		env := []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "GOPROXY=off", shared.env(home)}
		m := measure(b, env, mbin, "plugin", "add", set)
		name := filepath.Base(set)[len("caddy-"):]
		hasCaddyModule(b, mbin, name)
		got := shared.served(b) - before
		t.add(fmt.Sprintf("machine %d, plugin %s: install", i, name), secs(m.total),
			fmt.Sprintf("%s, %s; restore %s, resolve %s, build %s; %d packages compiled, %s from the shared cache, server disk %s",
				ratio(m.total, cold, "cold"), ratio(m.total, warm, "warm"), secs(m.stages["restore"]), secs(m.stages["resolve"]), secs(m.stages["build"]),
				m.compiled, mb(got), mb(dirBytes(shared.dir))))
	}
	for i := 1; i <= 5; i++ {
		machine(i, setA)
	}
	for i := 6; i <= 10; i++ {
		set := setB
		if i%2 == 1 {
			set = setA
		}
		machine(i, set)
	}
	t.print()
}
