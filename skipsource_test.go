package selfcompile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const skipSourceMain = `package main

//go:generate go tool go-selfcompile --skip-source

import (
	"fmt"
	"os"

	selfcompile "github.com/shazow/go-selfcompile"
)

func main() {
	// One install per argument, in this one process, with one SelfCompile:
	// the second install must replace the binary again, not the file the
	// first renamed aside.
	var c selfcompile.SelfCompile
	for _, p := range os.Args[1:] {
		c.Plugin(p)
		if err := c.Compile(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	for _, p := range selfcompile.Installed() {
		fmt.Println("plugin", p)
	}
	fmt.Println("host ok")
}
`

// TestSkipSource publishes a host whose bundle was generated with
// --skip-source to a module proxy directory, installs it with go install,
// and has it install a versioned plugin and then a local one, from the same
// process: the host's source comes through the proxy (at the version its
// build info records), its dependencies (this library among them) from the
// bundle. The host runs the generator with go tool, at the version of the
// library it requires.
func TestSkipSource(t *testing.T) {
	setupE2E(t)
	t.Parallel() // its own binaries, and caches that installs share safely: it runs beside the others
	work := tempDir(t)
	modcache := filepath.Join(e2e.modcache, "cache", "download")

	// This library, published as v0.1.0.
	libProxy := filepath.Join(work, "libproxy")
	libSrc := filepath.Join(work, "libsrc")
	root, _ := os.Getwd()
	if err := copyRepo(root, libSrc); err != nil {
		t.Fatal(err)
	}
	writeProxyModule(t, libProxy, "github.com/shazow/go-selfcompile", "v0.1.0", libSrc)

	// The host, generated with --skip-source and published as v1.0.0.
	host := filepath.Join(work, "host")
	writeFiles(t, host, map[string]string{
		"go.mod":  "module example.com/host\n\ngo 1.26\n\nrequire github.com/shazow/go-selfcompile v0.1.0\n\ntool github.com/shazow/go-selfcompile/cmd/go-selfcompile\n",
		"main.go": skipSourceMain,
	})
	// A private module cache: the shared one would keep the v0.1.0 and
	// v1.0.0 of an earlier run. The author's module cache comes first,
	// then their GOPROXY.
	private := "GOMODCACHE=" + filepath.Join(work, "modcache")
	userProxy, _ := command(e2e.repo, nil, "go", "env", "GOPROXY")
	authorEnv := []string{"GOPROXY=" + fileProxy(libProxy, modcache) + "," + strings.TrimSpace(string(userProxy)), "GOSUMDB=off", "GOFLAGS=-mod=mod -modcacherw", "GOWORK=off", private}
	if out, err := command(host, authorEnv, "go", "mod", "tidy"); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
	if out, err := command(host, authorEnv, "go", "tool", "go-selfcompile", "--skip-source", "--level", "fastest", "-q"); err != nil {
		t.Fatalf("generating: %v\n%s", err, out)
	}
	hostProxy := filepath.Join(work, "hostproxy")
	writeProxyModule(t, hostProxy, "example.com/host", "v1.0.0", host)
	plug := filepath.Join(work, "pluginc")
	writePlugin(t, plug, "example.com/pluginc", "pluginc activated.")
	writeProxyModule(t, hostProxy, "example.com/pluginc", "v1.0.0", plug)

	// A user installs the published host.
	gobin := filepath.Join(work, "bin")
	userEnv := []string{"GOBIN=" + gobin, "GOPROXY=" + fileProxy(hostProxy, libProxy, modcache), "GOSUMDB=off", "GOFLAGS=-trimpath -modcacherw", "GOWORK=off", private,
		"GOCACHE=" + filepath.Join(e2e.cacheDir, "go-selfcompile", "build")}
	if out, err := command(work, userEnv, "go", "install", "example.com/host@v1.0.0"); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	bin := filepath.Join(gobin, "host")
	if out := mustRun(t, bin); out != "host ok\n" {
		t.Fatalf("host before install: %q", out)
	}

	// The install reaches only the proxy with the host and the plugin: the
	// library and its dependencies must come from the bundle.
	plugd := filepath.Join(work, "plugind")
	writePlugin(t, plugd, "example.com/plugind", "plugind activated.")
	out, errOut, err := run(t, bin, []string{"GOPROXY=" + fileProxy(hostProxy), "GONOSUMDB=example.com"}, "example.com/pluginc@v1.0.0", plugd)
	if err != nil {
		t.Fatalf("install: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(errOut, "Fetching example.com/host@v1.0.0") {
		t.Errorf("the install did not fetch the host source:\n%s", errOut)
	}
	if n := strings.Count(errOut, "Replacing binary: "+bin); n != 2 {
		t.Errorf("%d replacements of %s, want 2:\n%s\nstdout:\n%s", n, bin, errOut, out)
	}
	want := "pluginc activated.\nplugind activated.\nplugin example.com/pluginc@v1.0.0\nplugin example.com/plugind\nhost ok\n"
	if out := mustRun(t, bin); out != want {
		t.Fatalf("host after install: %q", out)
	}
	onlyBeside(t, bin, 1)
}
