package selfcompile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// freshCache returns the XDG_CACHE_HOME of a user who never installed a
// plugin, with empty module caches. To spare the tests a cold compile and a
// toolchain restore, which do not change what an install needs from the
// network, it holds hard links to the shared build cache and toolchains.
func freshCache(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(tempDir(t), "cache")
	root := filepath.Join(dir, "go-selfcompile")
	if err := os.MkdirAll(root, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"build", "toolchains"} {
		if out, err := exec.Command("cp", "-al", filepath.Join(e2e.seed, "go-selfcompile", sub), filepath.Join(root, sub)).CombinedOutput(); err != nil {
			t.Fatalf("cp -al: %v\n%s", err, out)
		}
	}
	return dir
}

// graphProxy writes the modules of the graph host to a proxy directory:
// example.com/dep, whose go.mod (go 1.16, so not pruned) requires an older
// example.com/other than the host selects, which requires example.com/old,
// named only by go.sum's /go.mod lines; and a plugin with a dependency of
// its own, for installs that use the network.
func graphProxy(t *testing.T, dir string) string {
	t.Helper()
	proxy := filepath.Join(dir, "proxy")
	mods := []struct{ path, version string }{
		{"example.com/old", "v0.1.0"}, {"example.com/other", "v1.0.0"}, {"example.com/other", "v1.1.0"},
		{"example.com/dep", "v1.0.0"}, {"example.com/newdep", "v1.0.0"}, {"example.com/pluginx", "v1.0.0"},
	}
	files := map[string]map[string]string{
		"example.com/old@v0.1.0":     {"go.mod": "module example.com/old\n\ngo 1.16\n", "old.go": "package old\n"},
		"example.com/other@v1.0.0":   {"go.mod": "module example.com/other\n\ngo 1.16\n\nrequire example.com/old v0.1.0\n", "other.go": "package other\n\nconst V = \"other v1.0.0\"\n"},
		"example.com/other@v1.1.0":   {"go.mod": "module example.com/other\n\ngo 1.21\n", "other.go": "package other\n\nconst V = \"other v1.1.0\"\n"},
		"example.com/dep@v1.0.0":     {"go.mod": "module example.com/dep\n\ngo 1.16\n\nrequire example.com/other v1.0.0\n", "a/a.go": "package a\n\nimport \"example.com/other\"\n\nfunc Name() string { return \"dep/a with \" + other.V }\n", "b/b.go": "package b\n\nfunc Name() string { return \"dep/b\" }\n"},
		"example.com/newdep@v1.0.0":  {"go.mod": "module example.com/newdep\n\ngo 1.26\n", "newdep.go": "package newdep\n\nconst Name = \"newdep\"\n"},
		"example.com/pluginx@v1.0.0": {"go.mod": "module example.com/pluginx\n\ngo 1.26\n\nrequire example.com/newdep v1.0.0\n", "x.go": "package pluginx\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/newdep\"\n)\n\nfunc init() { fmt.Println(\"pluginx activated with \" + newdep.Name) }\n"},
	}
	for _, m := range mods {
		src := filepath.Join(dir, "src", m.path+"@"+m.version)
		writeFiles(t, src, files[m.path+"@"+m.version])
		writeProxyModule(t, proxy, m.path, m.version, src)
	}
	return proxy
}

const graphHostMain = `package main

//go:generate go tool go-selfcompile

import (
	"fmt"
	"os"

	"example.com/dep/a"
	"example.com/lib"
	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/plugincmd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		plugincmd.Main(os.Args[2:], selfcompile.SelfCompile{})
	}
	fmt.Println("graphhost:", a.Name(), "and", lib.Name)
}
`

// TestOfflineGraph is a host whose module graph reaches beyond its build
// (a dependency that requires an older version of another module, a
// module named only by go.sum's /go.mod lines), that replaces a module by
// a directory next to it (../lib) and this library by this repository's
// absolute path, and runs the generator with go tool. On a fresh cache with
// GOPROXY=off, local plugins that import a package it uses, and another
// package of the same module, install, the first under --keep-host-deps
// (the carried directories are no host dependency change, the absolute one
// made relative in the bundle); it rebuilds after ../lib is gone; a plugin installed
// from a module proxy is carried by the new binary, whose copy on another
// fresh cache removes it and adds it back, offline.
func TestOfflineGraph(t *testing.T) {
	setupE2E(t)
	t.Parallel() // its own binaries, and caches that installs share safely: it runs beside the others
	work := tempDir(t)
	proxy := graphProxy(t, work)
	host := filepath.Join(work, "graphhost")
	writeFiles(t, host, map[string]string{
		"go.mod": "module example.com/graphhost\n\ngo 1.26\n\nrequire (\n\texample.com/dep v1.0.0\n\texample.com/other v1.1.0\n\texample.com/lib v0.0.0\n\tgithub.com/shazow/go-selfcompile v0.0.0\n)\n\n" +
			"replace example.com/lib => ../lib\n\nreplace github.com/shazow/go-selfcompile => " + e2e.repo + "\n\ntool github.com/shazow/go-selfcompile/cmd/go-selfcompile\n",
		"main.go": graphHostMain,
	})
	writeFiles(t, filepath.Join(work, "lib"), map[string]string{"go.mod": "module example.com/lib\n\ngo 1.26\n", "lib.go": "package lib\n\nconst Name = \"lib from ../lib\"\n"})
	authorEnv := []string{"GOPROXY=" + fileProxy(proxy, filepath.Join(e2e.modcache, "cache", "download")), "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off"}
	for _, args := range [][]string{{"mod", "tidy"}, {"tool", "go-selfcompile", "--level", "fastest", "-q"}} {
		if out, err := command(host, authorEnv, "go", args...); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if sums, _ := os.ReadFile(filepath.Join(host, "go.sum")); !strings.Contains(string(sums), "example.com/old v0.1.0/go.mod") || strings.Contains(string(sums), "example.com/old v0.1.0 h1:") {
		t.Fatalf("the fixture does not name example.com/old by its go.mod only:\n%s", sums)
	}
	bin := filepath.Join(work, "bin", "graphhost")
	if err := buildHost(host, ".", bin); err != nil {
		t.Fatal(err)
	}
	const hostOut = "graphhost: dep/a with other v1.1.0 and lib from ../lib\n"
	if out := mustRun(t, bin); out != hostOut {
		t.Fatalf("host: %q", out)
	}

	// Offline, on a fresh cache: plugins that import the host's packages.
	fresh := []string{"XDG_CACHE_HOME=" + freshCache(t)}
	plugA, plugB := filepath.Join(work, "plugA"), filepath.Join(work, "plugB")
	writeFiles(t, plugA, map[string]string{"go.mod": "module example.com/pluga\n\ngo 1.26\n\nrequire example.com/dep v1.0.0\n",
		"a.go": "package pluga\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/dep/a\"\n)\n\nfunc init() { fmt.Println(\"pluga uses \" + a.Name()) }\n"})
	writeFiles(t, plugB, map[string]string{"go.mod": "module example.com/plugb\n\ngo 1.26\n\nrequire example.com/dep v1.0.0\n",
		"b.go": "package plugb\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/dep/b\"\n)\n\nfunc init() { fmt.Println(\"plugb uses \" + b.Name()) }\n"})
	pluginCmd(t, bin, fresh, "add", "--keep-host-deps", plugA)
	pluginCmd(t, bin, fresh, "add", plugB)
	if out := mustRun(t, bin); out != "pluga uses dep/a with other v1.1.0\nplugb uses dep/b\n"+hostOut {
		t.Fatalf("after the offline installs: %q", out)
	}

	// ../lib is carried: the host rebuilds without it.
	if err := os.RemoveAll(filepath.Join(work, "lib")); err != nil {
		t.Fatal(err)
	}
	pluginCmd(t, bin, fresh, "remove", "example.com/plugb")
	if out := mustRun(t, bin); out != "pluga uses dep/a with other v1.1.0\n"+hostOut {
		t.Fatalf("after a rebuild without ../lib: %q", out)
	}

	// Online, from the proxy: a plugin with a module dependency of its own,
	// and a local one whose go.mod does not require the module it imports
	// (the go command adds the requirement to the program's go.mod).
	untidy := filepath.Join(work, "untidy")
	writeFiles(t, untidy, map[string]string{"go.mod": "module example.com/untidy\n\ngo 1.26\n",
		"u.go": "package untidy\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/newdep\"\n)\n\nfunc init() { fmt.Println(\"untidy uses \" + newdep.Name) }\n"})
	pluginCmd(t, bin, append(fresh, "GOPROXY=file://"+filepath.ToSlash(proxy), "GOSUMDB=off"), "add", "example.com/pluginx@v1.0.0", untidy)
	if out := mustRun(t, bin); !strings.Contains(out, "pluginx activated with newdep\n") || !strings.Contains(out, "untidy uses newdep\n") {
		t.Fatalf("after the online install: %q", out)
	}
	// A copy of that binary, on another fresh cache, offline.
	copied := filepath.Join(tempDir(t), "bin", "graphhost")
	copyBinary(t, bin, copied)
	other := []string{"XDG_CACHE_HOME=" + freshCache(t)}
	pluginCmd(t, copied, other, "remove", "example.com/pluginx")
	if out := mustRun(t, copied); strings.Contains(out, "pluginx") {
		t.Fatalf("pluginx is still there: %q", out)
	}
	pluginCmd(t, copied, other, "add", "example.com/pluginx@v1.0.0")
	if out := mustRun(t, copied); !strings.Contains(out, "pluginx activated with newdep\n") || !strings.Contains(out, "untidy uses newdep\n") {
		t.Fatalf("pluginx was not added back offline: %q", out)
	}
}

// oddHostMain imports a package of every module whose path ends its
// elements like the files of a module cache.
const oddHostMain = `package main

//go:generate go tool go-selfcompile

import (
	"fmt"
	"os"

	"example.com/Upper/Case"
	"example.info/ctx"
	"example.lock/l"
	"example.mod/m"
	"example.zip/z"
	"example.ziphash/h"
	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/plugincmd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		plugincmd.Main(os.Args[2:], selfcompile.SelfCompile{})
	}
	fmt.Println("oddhost:", ctx.N+m.N+z.N+h.N+l.N+Case.N)
}
`

// Module paths are domains, and their elements may end as the files of a
// module cache do (.info, .mod, .zip, .ziphash, .lock), or be upper case
// (escaped with "!" in the cache): a host whose graph has them generates,
// installs a plugin that imports them offline on a fresh cache, trims its
// cache and installs again.
func TestOddModulePaths(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	work := tempDir(t)
	proxy := filepath.Join(work, "proxy")
	paths := []string{"example.info/ctx", "example.mod/m", "example.zip/z", "example.ziphash/h", "example.lock/l", "example.com/Upper/Case"}
	var require strings.Builder
	for _, p := range paths {
		src := filepath.Join(work, "src", strings.ReplaceAll(p, "/", "_"))
		writeFiles(t, src, map[string]string{"go.mod": "module " + p + "\n\ngo 1.26\n", "n.go": "package " + filepath.Base(p) + "\n\nconst N = 1\n"})
		writeProxyModule(t, proxy, p, "v1.0.0", src)
		require.WriteString("\t" + p + " v1.0.0\n")
	}
	host := filepath.Join(work, "oddhost")
	rel, _ := filepath.Rel(host, e2e.repo)
	writeFiles(t, host, map[string]string{
		"go.mod": "module example.com/oddhost\n\ngo 1.26\n\nrequire (\n" + require.String() + "\tgithub.com/shazow/go-selfcompile v0.0.0\n)\n\n" +
			"replace github.com/shazow/go-selfcompile => " + filepath.ToSlash(rel) + "\n\ntool github.com/shazow/go-selfcompile/cmd/go-selfcompile\n",
		"main.go": oddHostMain,
	})
	authorEnv := []string{"GOPROXY=" + fileProxy(proxy, filepath.Join(e2e.modcache, "cache", "download")), "GOSUMDB=off", "GOFLAGS=-mod=mod", "GOWORK=off"}
	for _, args := range [][]string{{"mod", "tidy"}, {"tool", "go-selfcompile", "--level", "fastest", "-q"}} {
		if out, err := command(host, authorEnv, "go", args...); err != nil {
			t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	bin := filepath.Join(work, "bin", "oddhost")
	if err := buildHost(host, ".", bin); err != nil {
		t.Fatal(err)
	}
	plug := filepath.Join(work, "plug")
	writeFiles(t, plug, map[string]string{"go.mod": "module example.com/oddplug\n\ngo 1.26\n\nrequire (\n" + require.String() + ")\n",
		"p.go": "package oddplug\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/Upper/Case\"\n\t\"example.info/ctx\"\n\t\"example.ziphash/h\"\n)\n\nfunc init() { fmt.Println(\"oddplug\", ctx.N+h.N+Case.N) }\n"})
	fresh := []string{"XDG_CACHE_HOME=" + freshCache(t)}
	pluginCmd(t, bin, fresh, "add", plug)
	if out := mustRun(t, bin); out != "oddplug 3\noddhost: 6\n" {
		t.Fatalf("after the offline install: %q", out)
	}
	pluginCmd(t, bin, fresh, "cache", "--trim")
	pluginCmd(t, bin, fresh, "remove", "example.com/oddplug")
	pluginCmd(t, bin, fresh, "add", plug)
	if out := mustRun(t, bin); out != "oddplug 3\noddhost: 6\n" {
		t.Fatalf("after the trim and another install: %q", out)
	}
}
