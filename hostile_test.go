package selfcompile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// plugin writes a module with the given files and returns its directory.
func plugin(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(tempDir(t), "plugin")
	writeFiles(t, dir, files)
	return dir
}

const pluginMod = "module example.com/hostile\n\ngo 1.26\n"

func lit(s string) func(*testing.T) string { return func(*testing.T) string { return s } }

func dir(files map[string]string) func(*testing.T) string {
	return func(t *testing.T) string { return plugin(t, files) }
}

// TestHostileInput feeds the installer malformed, malicious and broken
// plugins. Each must end in a typed error that says what is wrong, with
// the binary's hash unchanged.
func TestHostileInput(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	withInit := func(body string) map[string]string {
		return map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"time\"\n)\n\nvar _, _, _ = fmt.Sprint, os.Exit, time.Sleep\n\nfunc init() {\n" + body + "\n}\n"}
	}
	cases := []struct {
		name  string
		spec  func(t *testing.T) string
		want  error
		says  string
		probe time.Duration
	}{
		{"empty", lit(""), selfcompile.ErrInvalidPlugin, "empty plugin name", 0},
		{"blank", lit("   "), selfcompile.ErrInvalidPlugin, "empty plugin name", 0},
		{"quote injection", lit(`example.com/x"; func init() { panic(1) }; import _ "fmt`), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"newline injection", lit("example.com/x\"\nfunc init() { panic(1) }\nvar _ = \""), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"backquote injection", lit("example.com/x`+`"), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"NUL byte", lit("example.com/x\x00y"), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"comment injection", lit("example.com/x // y"), selfcompile.ErrInvalidPlugin, "not a valid import path", 0},
		{"go flag", lit("-toolexec=/bin/evil"), selfcompile.ErrInvalidPlugin, "not a valid import path", 0},
		{"dot-dot element", lit("example.com/../etc"), selfcompile.ErrInvalidPlugin, "not a valid import path", 0},
		{"non-ASCII path", lit("example.com/plügin"), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"short version", lit("example.com/x@v1"), selfcompile.ErrInvalidPlugin, "full semantic version", 0},
		{"version without v", lit("example.com/x@1.2.3"), selfcompile.ErrInvalidPlugin, "invalid version", 0},
		{"version injection", lit("example.com/x@master;rm -rf /"), selfcompile.ErrInvalidPlugin, "invalid version", 0},
		{"empty version", lit("example.com/x@"), selfcompile.ErrInvalidPlugin, "invalid version", 0},
		{"two versions", lit("example.com/x@v1.0.0@v2.0.0"), selfcompile.ErrInvalidPlugin, "invalid version", 0},
		{"standard library", lit("fmt"), selfcompile.ErrInvalidPlugin, "standard library", 0},
		{"the host's main package", lit("github.com/shazow/go-selfcompile/example/abinary"), selfcompile.ErrInvalidPlugin, "main package", 0},
		{"another main package", lit("github.com/shazow/go-selfcompile/cmd/go-selfcompile"), selfcompile.ErrInvalidPlugin, "main package", 0},
		{"no such package in the host", lit("github.com/shazow/go-selfcompile/nope"), selfcompile.ErrInvalidPlugin, "no such package in the host module", 0},
		{"no such module, offline", lit("example.com/nonexistent"), selfcompile.ErrNeedsNetwork, "GOPROXY=off", 0},
		{"no such module version, offline", lit("example.com/nonexistent@v1.0.0"), selfcompile.ErrNeedsNetwork, "example.com/nonexistent@v1.0.0", 0},
		{"missing directory", func(t *testing.T) string { return filepath.Join(tempDir(t), "missing") }, selfcompile.ErrInvalidPlugin, "not found", 0},
		{"a file, not a directory", func(t *testing.T) string {
			return filepath.Join(plugin(t, map[string]string{"go.mod": pluginMod}), "go.mod")
		}, selfcompile.ErrInvalidPlugin, "not a directory", 0},
		{"folder outside any module", func(t *testing.T) string {
			d := t.TempDir() // not under this repository's go.mod
			writeFiles(t, d, map[string]string{"p.go": "package p\n"})
			return d
		}, selfcompile.ErrInvalidPlugin, "not inside a Go module", 0},
		{"go.mod without module line", dir(map[string]string{"go.mod": "go 1.26\n", "p.go": "package p\n"}), selfcompile.ErrInvalidPlugin, "no module line", 0},
		{"invalid module path", dir(map[string]string{"go.mod": "module ../evil\n", "p.go": "package p\n"}), selfcompile.ErrInvalidPlugin, "not valid", 0},
		{"no Go files", dir(map[string]string{"go.mod": pluginMod, "README": "hi"}), selfcompile.ErrInvalidPlugin, "no Go files", 0},
		{"only test files", dir(map[string]string{"go.mod": pluginMod, "p_test.go": "package hostile\n"}), selfcompile.ErrInvalidPlugin, "no Go files (tests aside)", 0},
		{"main package from a folder", dir(map[string]string{"go.mod": pluginMod, "main.go": "package main\n\nfunc main() {}\n"}), selfcompile.ErrInvalidPlugin, "main package", 0},
		{"the host module's own folder", func(t *testing.T) string { return filepath.Join(e2e.repo, "example", "aplugin") }, selfcompile.ErrInvalidPlugin, "part of the host module", 0},
		{"syntax error", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nfunc init() {\n"}), selfcompile.ErrBuild, "syntax error", 0},
		{"type error", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nvar x int = \"s\"\n"}), selfcompile.ErrBuild, "cannot use \"s\"", 0},
		{"imports a missing module, offline", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nimport _ \"example.com/missing/dep\"\n"}), selfcompile.ErrNeedsNetwork, "example.com/missing/dep", 0},
		{"panics in init", dir(withInit(`panic("plugin exploded")`)), selfcompile.ErrVerify, "plugin exploded", 0},
		{"exits 0 in init", dir(withInit(`os.Exit(0)`)), selfcompile.ErrVerify, "without answering", 0},
		{"exits 3 in init", dir(withInit(`os.Exit(3)`)), selfcompile.ErrVerify, "exit status 3", 0},
		{"hangs in init", dir(withInit(`time.Sleep(time.Hour)`)), selfcompile.ErrVerify, "did not answer within 2s", 2 * time.Second},
	}
	target := installedCopy(t)
	unchangedBin := unchanged(t, target)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := installer(t, target)
			if c.probe > 0 {
				sc.ProbeTimeout = c.probe
			}
			spec := c.spec(t)
			sc.Plugin(spec)
			err := sc.Compile()
			if !errors.Is(err, c.want) {
				t.Fatalf("Compile(%q) = %v, want %v", spec, err, c.want)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error does not say %q:\n%v", c.says, err)
			}
			unchangedBin()
		})
	}
	// The errors name the plugin that failed.
	var be *selfcompile.BuildError
	sc := installer(t, target)
	bad := dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nvar x int = \"s\"\n"})(t)
	sc.Plugin(bad)
	if err := sc.Compile(); !errors.As(err, &be) || len(be.Plugins) != 1 || be.Plugins[0] != bad {
		t.Errorf("BuildError does not name the plugin: %#v", err)
	}
	// Beside a plugin whose init runs first and is fine, the one that
	// panics, exits or hangs in init is named, and only it.
	good := dir(map[string]string{"go.mod": "module example.com/aaa\n\ngo 1.26\n", "p.go": "package aaa\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\"aaa\") }\n"})(t)
	for _, body := range []string{`panic("x")`, `os.Exit(0)`, `os.Exit(3)`, `time.Sleep(time.Hour)`} {
		var ve *selfcompile.VerifyError
		sc = installer(t, target)
		sc.ProbeTimeout = 3 * time.Second
		sc.Plugin(good)
		sc.Plugin(dir(withInit(body))(t))
		if err := sc.Compile(); !errors.As(err, &ve) || len(ve.Plugins) != 1 || ve.Plugins[0] != "example.com/hostile" {
			t.Errorf("init %s: the VerifyError does not name the plugin, and it alone: %v", body, err)
		}
	}
	var ne *selfcompile.NetworkError
	sc = installer(t, target)
	sc.Plugin("example.com/nonexistent@v1.0.0")
	if err := sc.Compile(); !errors.As(err, &ne) || ne.Module != "example.com/nonexistent" || ne.Version != "v1.0.0" || len(ne.Plugins) != 1 {
		t.Errorf("NetworkError does not name the plugin and module: %#v", err)
	}
	onlyBeside(t, target, 0)
}

// Errors name their real cause: a C compiler that fails is named, and no
// plugin is blamed for it; a plugin whose go.mod replaces a module that
// then cannot be found is told that replace directives are not followed,
// and the error still matches what failed (ErrNeedsNetwork offline).
func TestErrorsNameTheCause(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	unchangedBin := unchanged(t, target)
	usesNet := plugin(t, map[string]string{"go.mod": "module example.com/usesnet\n\ngo 1.26\n",
		"p.go": "package usesnet\n\nimport \"net\"\n\nvar _ = net.ParseIP\n"})
	sc := installer(t, target)
	t.Setenv("CC", "/bin/false")
	sc.Plugin(usesNet)
	err := sc.Compile()
	var be *selfcompile.BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "C compiler (/bin/false)") || len(be.Plugins) != 0 {
		t.Errorf("with CC=/bin/false: %#v\n%v", be, err)
	}
	os.Unsetenv("CC")

	replacing := plugin(t, map[string]string{"go.mod": "module example.com/replacing\n\ngo 1.26\n\nrequire example.com/forked v1.0.0\n\nreplace example.com/forked => ../forked\n",
		"p.go": "package replacing\n\nimport _ \"example.com/forked\"\n"})
	sc = installer(t, target)
	sc.Plugin(replacing)
	err = sc.Compile()
	if !errors.Is(err, selfcompile.ErrInvalidPlugin) || !errors.Is(err, selfcompile.ErrNeedsNetwork) || !strings.Contains(err.Error(), "replace directive") || !strings.Contains(err.Error(), replacing) {
		t.Errorf("a plugin with replace directives: %v", err)
	}
	// The same plugin published as a module version gets the same hint.
	proxy := filepath.Join(tempDir(t), "proxy")
	writeProxyModule(t, proxy, "example.com/replacing", "v1.0.0", replacing)
	t.Setenv("GOPROXY", fileProxy(proxy))
	t.Setenv("GOSUMDB", "off")
	sc = installer(t, target)
	t.Setenv("GOPROXY", fileProxy(proxy)) // installer sets GOPROXY=off
	sc.Plugin("example.com/replacing@v1.0.0")
	err = sc.Compile()
	if !errors.Is(err, selfcompile.ErrInvalidPlugin) || !strings.Contains(err.Error(), "replace directive") || !strings.Contains(err.Error(), "example.com/replacing@v1.0.0") {
		t.Errorf("a module version with replace directives: %v", err)
	}
	unchangedBin()
}
