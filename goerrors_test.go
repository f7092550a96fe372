package selfcompile

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/gocmd"
)

func TestMentions(t *testing.T) {
	for _, c := range []struct {
		out, path string
		want      bool
	}{
		{"# example.com/p\np.go:1: x", "example.com/p", true},
		{"example.com/p: module lookup disabled", "example.com/p", true},
		{"go: example.com/p@v1.0.0: x", "example.com/p", true},
		{"# example.com/p/sub\n", "example.com/p", true},
		{`package "example.com/p" is not`, "example.com/p", true},
		{"# example.com/plugin\n", "example.com/p", false}, // a longer path
		{"# myexample.com/p\n", "example.com/p", false},    // a longer path before it
		{"# example.com/p2/x\n", "example.com/p", false},   // not a path element
		{"nothing here", "example.com/p", false},
		{"example.com/p", "example.com/p", true}, // at the ends
	} {
		if got := mentions(c.out, c.path); got != c.want {
			t.Errorf("mentions(%q, %q) = %v, want %v", c.out, c.path, got, c.want)
		}
	}
}

// What the go command prints when a module needs the network, as go
// 1.26 prints it.
func TestNetworkError(t *testing.T) {
	plugins := []pluginSpec{
		{raw: "example.com/plugin@upgrade", importPath: "example.com/plugin", version: "upgrade", isNew: true},
		{raw: "./local", importPath: "example.com/local", modulePath: "example.com/local", isNew: true},
		{raw: "example.com/kept", importPath: "example.com/kept"},
	}
	for _, c := range []struct {
		out              string
		module, version  string
		plugins          []string
		reasonStartsWith string
	}{
		{"go: example.com/plugin@upgrade: module lookup disabled by GOPROXY=off\n", "example.com/plugin", "upgrade", []string{"example.com/plugin@upgrade"}, "module lookup disabled"},
		{"go: example.com/plugin: module lookup disabled by GOPROXY=off\n", "example.com/plugin", "latest", []string{"example.com/plugin@upgrade"}, "module lookup disabled"},
		{"go: github.com/spf13/pflag@v1.1.0: Get \"https://127.0.0.1:1/github.com/spf13/pflag/@v/v1.1.0.mod\": dial tcp 127.0.0.1:1: connect: connection refused\n", "github.com/spf13/pflag", "v1.1.0", []string{"example.com/plugin@upgrade", "./local"}, "Get "},
		{"go: example.com/local@v0.0.0 requires\n\texample.com/dep@v1.2.3: reading https://proxy.golang.org/example.com/dep/@v/v1.2.3.mod: dial tcp: lookup proxy.golang.org: no such host\n", "example.com/dep", "v1.2.3", []string{"./local"}, "reading https:"},
	} {
		ne := networkError(c.out, plugins)
		if ne == nil {
			t.Errorf("%q: no network error", c.out)
			continue
		}
		if ne.Module != c.module || ne.Version != c.version || !reflect.DeepEqual(ne.Plugins, c.plugins) || len(ne.Reason) < len(c.reasonStartsWith) || ne.Reason[:len(c.reasonStartsWith)] != c.reasonStartsWith {
			t.Errorf("%q: got %s@%s for %q (%q), want %s@%s for %q", c.out, ne.Module, ne.Version, ne.Plugins, ne.Reason, c.module, c.version, c.plugins)
		}
		if !errors.Is(ne, ErrNeedsNetwork) {
			t.Errorf("%v does not match ErrNeedsNetwork", ne)
		}
	}
	if ne := networkError("# example.com/plugin\np.go:2:13: cannot use \"s\"\n", plugins); ne != nil {
		t.Errorf("a compile error is a network error: %v", ne)
	}
}

// When the module proxy answers that it has no such module or version
// (404, 410, or no version for the query), the install says the plugin
// was not found, not that the network is needed: connecting changes
// nothing. The server response may quote the proxy's own failure to reach
// a repository.
func TestNotFoundIsNotNetwork(t *testing.T) {
	in := &resolution{layout: &layout{run: &run{}}, plugins: []pluginSpec{
		{raw: "example.com/missing@upgrade", importPath: "example.com/missing", version: "upgrade", isNew: true},
		{raw: "example.com/kept", importPath: "example.com/kept"},
	}}
	for _, out := range []string{
		"go: example.com/missing@upgrade: module example.com/missing: reading https://proxy.golang.org/example.com/missing/@v/list: 404 Not Found\n\tserver response: not found: module example.com/missing: git ls-remote -q origin: exit status 128:\n\tfatal: could not read Username for 'https://example.com': terminal prompts disabled\n",
		"go: module example.com/missing: reading http://127.0.0.1:8080/example.com/missing/@v/list: 404 File not found\n",
		"go: example.com/missing@v1.0.0: reading https://proxy.golang.org/example.com/missing/@v/v1.0.0.info: 410 Gone\n\tserver response: not found: example.com/missing@v1.0.0: unrecognized import path \"example.com/missing\": https fetch: Get \"https://example.com/missing?go-get=1\": dial tcp: lookup example.com: no such host\n",
		"go: example.com/missing@upgrade: no matching versions for query \"upgrade\"\n",
	} {
		err := in.resolveError(&gocmd.Error{Args: []string{"get"}, Output: out, Err: errors.New("exit status 1")})
		if errors.Is(err, ErrNeedsNetwork) || !errors.Is(err, ErrInvalidPlugin) {
			t.Errorf("%q: %v, want ErrInvalidPlugin, not ErrNeedsNetwork", out, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, `plugin "example.com/missing@upgrade": the module proxy has no example.com/missing`) || strings.Contains(msg, "connect to the network") {
			t.Errorf("%q: the message does not say the module proxy has no such module:\n%s", out, msg)
		}
		if needsNetwork(out) {
			t.Errorf("%q: needsNetwork", out)
		}
	}
}

// TestPrivateModuleNotNetwork: a module the checksum database has no
// record of (a private one) is no want of network: the message names
// GOPRIVATE and GONOSUMDB, whichever way the go command words it.
func TestPrivateModuleNotNetwork(t *testing.T) {
	in := &resolution{layout: &layout{run: &run{}}, plugins: []pluginSpec{{raw: "example.com/private/plugin@v1.0.0", importPath: "example.com/private/plugin", version: "v1.0.0", isNew: true}}}
	for _, out := range []string{
		"go: downloading example.com/private v1.0.0\ngo: example.com/private/plugin@v1.0.0: example.com/private@v1.0.0: verifying module: example.com/private@v1.0.0: reading https://sum.golang.org/lookup/example.com/private@v1.0.0: 404 Not Found\n\tserver response:\n\tnot found: example.com/private@v1.0.0: unrecognized import path \"example.com/private\": https fetch: Get \"https://example.com/private?go-get=1\": dial tcp: lookup example.com: no such host\n",
		"go: example.com/private@v1.0.0: verifying go.mod: example.com/private@v1.0.0/go.mod: reading https://proxy.example.com/sumdb/sum.golang.org/lookup/example.com/private@v1.0.0: 410 Gone\n",
	} {
		err := in.resolveError(&gocmd.Error{Args: []string{"get"}, Output: out, Err: errors.New("exit status 1")})
		if errors.Is(err, ErrNeedsNetwork) || !errors.Is(err, ErrInvalidPlugin) {
			t.Errorf("%q: %v, want ErrInvalidPlugin, not ErrNeedsNetwork", out, err)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "GOPRIVATE=example.com/private") || !strings.Contains(msg, "checksum database") || strings.Contains(msg, "module proxy has no") {
			t.Errorf("%q: the message does not say to set GOPRIVATE:\n%s", out, msg)
		}
	}
}

func TestAttributeError(t *testing.T) {
	plugins := []pluginSpec{
		{raw: "/src/bad", importPath: "example.com/bad", modulePath: "example.com/bad"},
		{raw: "example.com/good@v1.0.0", importPath: "example.com/good"},
	}
	cc := []string{"cgo:", "/usr/bin/gcc", "mycc:"}
	for _, c := range []struct {
		step, out string
		plugins   []string
		cause     bool
		asPlugin  bool
	}{
		{"build", "# example.com/bad\n../bad/p.go:3:13: cannot use \"s\" (untyped string constant) as int value\n", []string{"/src/bad"}, false, false},
		{"build", "# example.com/host/cmd\ncmd/main.go:3: undefined: x\n", nil, false, false},
		{"build", "# example.com/bad/sub\nmycc: error: unrecognized option\n", []string{"/src/bad"}, true, false},
		{"build", "# runtime/cgo\ncgo: C compiler \"nope\" not found: exec: \"nope\": executable file not found in $PATH\n", nil, true, false},
		{"get", "go: example.com/good@v1.0.0: invalid version: unknown revision v1.0.0\n", []string{"example.com/good@v1.0.0"}, false, true},
	} {
		err := attributeError(&gocmd.Error{Args: []string{c.step}, Output: c.out}, plugins, cc)
		if c.asPlugin {
			var pe *PluginError
			if !errors.As(err, &pe) || pe.Spec != c.plugins[0] {
				t.Errorf("%q: %v, want a PluginError for %s", c.out, err, c.plugins[0])
			}
			continue
		}
		var be *BuildError
		if !errors.As(err, &be) || !reflect.DeepEqual(be.Plugins, c.plugins) || (be.Cause != "") != c.cause {
			t.Errorf("%q: %#v, want a BuildError for %q, cause %v", c.out, err, c.plugins, c.cause)
		}
	}
}

// A disk that fills up during go build -v: the go command's output holds
// the name of every package it compiled before, and the one line that
// says the disk is full. The error is that line, with the disk it names,
// its free space and what to do, not the hundreds of lines before it.
func TestNoSpaceFromGoOutput(t *testing.T) {
	cache, exeDir := t.TempDir(), t.TempDir()
	in := &resolution{layout: &layout{run: &run{cache: cache, bin: &exe.File{Path: filepath.Join(exeDir, "mytool")}}}}
	var names strings.Builder
	for i := range 300 {
		fmt.Fprintf(&names, "github.com/acme/notes/internal/pkg%d\n", i)
	}
	for _, c := range []struct {
		name, line, dir string
		moveCache       bool
	}{
		{"build cache", "go: writing build cache: write " + filepath.Join(cache, "build", "3f", "3f2a-d") + ": no space left on device", cache, true},
		{"compiler output in the workdir", "compile: writing output: write " + filepath.Join(cache, "work", "install-1", "tmp", "go-build1", "b042", "_pkg_.a") + ": no space left on device", cache, true},
		{"new binary beside the executable", "go: copying /x/a.out: write " + filepath.Join(exeDir, ".mytool.selfcompile-new-1", "mytool") + ": no space left on device", exeDir, false},
		{"windows", `go: writing build cache: write C:\Users\me\cache\x-d: There is not enough space on the disk.`, cache, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := names.String() + "# github.com/acme/notes/internal/pkg300\n" + c.line + "\n"
			err := in.goError(&gocmd.Error{Args: []string{"build", "-v", "-o", "x", "."}, Output: out, Err: errors.New("exit status 1")})
			msg := err.Error()
			if !errors.Is(err, ErrNoSpace) || errors.Is(err, ErrBuild) {
				t.Fatalf("%v: not ErrNoSpace alone", err)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "pkg299") || len(msg) > 500 {
				t.Errorf("the message holds the go command's output (%d bytes):\n%s", len(msg), msg)
			}
			for _, want := range []string{"the disk of " + c.dir + " is full", c.line, "MB free now", "free some space on it", "the installed binary is unchanged"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the message lacks %q:\n%s", want, msg)
				}
			}
			if got := strings.Contains(msg, "SelfCompile.CacheDir"); got != c.moveCache {
				t.Errorf("the message says to move the cache: %v, want %v:\n%s", got, c.moveCache, msg)
			}
		})
	}
	if _, _, ok := noSpaceLine("# example.com/p\np.go:1: cannot use x\n"); ok {
		t.Error("a compile error is taken for a full disk")
	}
}
