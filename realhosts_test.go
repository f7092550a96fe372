package selfcompile_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/generate"
	"github.com/shazow/go-selfcompile/internal/stub"
)

// realHosts are open-source programs with large module graphs whose
// whole graph the module proxy here serves (traefik, gitea, rclone and
// telegraf name module versions it refuses): what make test-hosts
// generates bundles for.
var realHosts = []struct{ module, version, mainDir string }{
	{"github.com/gohugoio/hugo", "v0.165.0", "."}, // the newest release that builds with go1.26
	{"github.com/prometheus/prometheus", "v0.316.0", "cmd/prometheus"},
	{"github.com/caddyserver/caddy/v2", "v2.11.9", "cmd/caddy"},
	{"github.com/syncthing/syncthing", "v1.30.0", "cmd/syncthing"},
	{"helm.sh/helm/v3", "v3.22.0", "cmd/helm"},
	{"github.com/derailed/k9s", "v0.50.16", "."},
}

// TestRealHosts (make test-hosts; it downloads, so it is not in make test)
// generates, without compiling, the bundle of each real host at its
// release, then checks with GOPROXY=off, on a module cache that holds
// nothing but what the bundle carries, that go list -deps of the main
// package works: the bundle alone loads the program's whole module graph
// and every package it builds. It prints a line per host.
func TestRealHosts(t *testing.T) {
	if os.Getenv("SELFCOMPILE_TEST_HOSTS") == "" {
		t.Skip("downloads real programs: run with make test-hosts")
	}
	root, _ := os.Getwd()
	work, err := os.MkdirTemp(filepath.Join(root, "build"), "hosts-")
	if err != nil {
		t.Fatal(err)
	}
	defer removeAll(work)
	t.Setenv("TMPDIR", work) // the generator's scratch directory: /tmp is slow on some machines
	var table []string
	for _, h := range realHosts {
		t.Run(filepath.Base(h.module), func(t *testing.T) {
			line, err := realHost(t, work, h.module, h.version, h.mainDir)
			if err != nil {
				t.Fatal(err)
			}
			table = append(table, line)
		})
	}
	fmt.Println("| host | modules in its graph | packages listed offline | bundle (shared + toolchain) | generation |")
	fmt.Println("|---|---|---|---|---|")
	for _, l := range table {
		fmt.Println(l)
	}
}

// realHost generates the bundle of one host and checks it offline.
func realHost(t *testing.T, work, mod, version, mainDir string) (string, error) {
	dir := filepath.Join(work, filepath.Base(mod))
	out, err := command(work, []string{"GOFLAGS=-mod=mod"}, "go", "mod", "download", "-json", mod+"@"+version)
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %v\n%s", mod, version, err, out)
	}
	src := strings.TrimSpace(string(out[strings.Index(string(out), `"Dir": "`)+len(`"Dir": "`):]))
	src = src[:strings.Index(src, `"`)]
	if out, err := exec.Command("cp", "-r", src, dir).CombinedOutput(); err != nil {
		return "", fmt.Errorf("cp: %v %s", err, out)
	}
	exec.Command("chmod", "-R", "u+w", dir).Run()
	// Adopt the library, as its README says: require it (here, this
	// repository), and make go.mod and go.sum complete.
	root, _ := os.Getwd()
	writeFiles(t, filepath.Join(dir, mainDir), map[string]string{"selfcompile_adopt.go": "package main\n\nimport _ \"github.com/shazow/go-selfcompile\"\n"})
	for _, args := range [][]string{
		{"mod", "edit", "-require=github.com/shazow/go-selfcompile@v0.0.0", "-replace=github.com/shazow/go-selfcompile=" + root},
		{"mod", "tidy"},
	} {
		if out, err := command(dir, []string{"GOFLAGS=-mod=mod"}, "go", args...); err != nil {
			return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	start := time.Now()
	res, err := generate.Generate(context.Background(), generate.Options{Dir: filepath.Join(dir, mainDir), Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		return "", fmt.Errorf("generating: %w", err)
	}
	elapsed := time.Since(start)
	var size int64
	for _, m := range append([]*bundle.Manifest{res.Shared}, res.Toolchains[res.Shared.Targets[0]]) {
		for _, p := range m.Parts {
			size += p.Compressed
		}
	}
	pkgs, err := listOffline(t, work, filepath.Join(dir, mainDir, stub.BundleDir), res.Shared)
	if err != nil {
		return "", err
	}
	t.Logf("%s@%s: %d modules, %d packages listed offline, %.1f MB, %v", mod, version, len(res.Shared.BuildList), pkgs, float64(size)/1e6, elapsed.Round(time.Second))
	return fmt.Sprintf("| %s %s | %d | %d | %.1f MB | %.0f s |", mod, version, len(res.Shared.BuildList), pkgs, float64(size)/1e6, elapsed.Seconds()), nil
}

// listOffline restores the shared bundle of the bundle package at pkgDir
// into a new directory, with the bundles in the restored bundle package
// as an install writes them, and runs go list -deps of the main package
// there with GOPROXY=off and a module cache that holds only the bundle's
// modules. It returns the packages listed.
func listOffline(t *testing.T, work, pkgDir string, m *bundle.Manifest) (int, error) {
	dir, err := os.MkdirTemp(work, "offline-")
	if err != nil {
		return 0, err
	}
	f, err := os.Open(filepath.Join(pkgDir, stub.SharedBundle))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	br, err := bundle.Open(f)
	if err != nil {
		return 0, err
	}
	defer br.Close()
	for _, p := range br.Manifest.Parts {
		if err := os.MkdirAll(filepath.Join(dir, p.Name), 0o755); err != nil {
			return 0, err
		}
		if err := br.Restore(p.Name, filepath.Join(dir, p.Name), nil); err != nil {
			return 0, fmt.Errorf("restoring %s: %w", p.Name, err)
		}
	}
	module := filepath.Join(dir, bundle.PartSource, filepath.FromSlash(m.ModuleDir))
	bundles, _ := filepath.Glob(filepath.Join(pkgDir, "*.bundle"))
	for _, b := range bundles {
		if out, err := exec.Command("cp", b, filepath.Join(module, filepath.FromSlash(m.MainDir), stub.BundleDir)).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("cp: %v %s", err, out)
		}
	}
	env := []string{"GOMODCACHE=" + filepath.Join(dir, bundle.PartModules), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off", "GOTOOLCHAIN=local"}
	out, err := command(module, env, "go", "list", "-deps", "-f", "{{.ImportPath}}", "./"+m.MainDir)
	if err != nil {
		return 0, fmt.Errorf("go list -deps offline, from the bundle alone: %v\n%s", err, out)
	}
	return strings.Count(string(out), "\n"), nil
}
