//go:build unix

package generate

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/cacheprog"
)

// The warm cache build gets the generator as its build cache, with the
// vendor's GOCACHE as the seed and the vendor's GOCACHEPROG as the shared
// cache; without a generator to start, or with nothing to take from, it
// builds into the empty cache alone. Either way the vendor's GOCACHEPROG
// is not given to the go command as it is: the warm cache would stay
// empty (the go command then keeps nothing in GOCACHE).
func TestWarmCacheEnv(t *testing.T) {
	for _, c := range []struct {
		name         string
		prog         string
		env          goEnv
		seed, remote string
		goBetween    bool
	}{
		{"the vendor's build cache", "/gen", goEnv{GOCACHE: "/home/v/.cache/go-build"}, "/home/v/.cache/go-build", "", true},
		{"and a shared one", "/gen", goEnv{GOCACHE: "/home/v/.cache/go-build", GOCACHEPROG: "go-cacher -verbose"}, "/home/v/.cache/go-build", "go-cacher -verbose", true},
		{"a shared one, GOCACHE off", "/gen", goEnv{GOCACHE: "off", GOCACHEPROG: "go-cacher"}, "", "go-cacher", true},
		{"nothing to take from", "/gen", goEnv{GOCACHE: "off"}, "", "", false},
		{"no generator to start", "", goEnv{GOCACHE: "/c", GOCACHEPROG: "go-cacher"}, "", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := &gen{opts: Options{CacheProg: c.prog}, env: c.env, tmp: "/tmp/g"}
			env := g.warmCacheEnv([]string{"PATH=/bin", "GOCACHE=/user", "GOCACHEPROG=go-cacher"}, "/tmp/g/warm")
			vars := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				if _, dup := vars[k]; dup {
					t.Errorf("%s is set twice: %q", k, env)
				}
				vars[k] = v
			}
			if vars["GOCACHE"] != "/tmp/g/warm" || vars["PATH"] != "/bin" {
				t.Errorf("env %q", env)
			}
			if !c.goBetween {
				if _, ok := vars["GOCACHEPROG"]; ok {
					t.Errorf("GOCACHEPROG given to the go command: %q", env)
				}
				return
			}
			if !strings.HasSuffix(vars["GOCACHEPROG"], "'"+c.prog+"'") {
				t.Errorf("GOCACHEPROG=%s, want the generator", vars["GOCACHEPROG"])
			}
			var cfg cacheprog.Config
			if err := json.Unmarshal([]byte(vars[cacheprog.Env]), &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.Dir != "/tmp/g/warm" || cfg.Seed != c.seed || cfg.Remote != c.remote || cfg.Note == "" || cfg.Timeout == 0 {
				t.Errorf("the go-between's configuration: %+v", cfg)
			}
		})
	}
}
