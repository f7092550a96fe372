//go:build unix

package selfcompile_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// KeepHostDeps refuses a plugin that is itself a module of the host's
// build list at another version: it moves the host's dependency.
func TestKeepHostDepsPluginModule(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	pflagV := required(t, "github.com/spf13/pflag")
	proxy := filepath.Join(tempDir(t), "proxy")
	publishCopy(t, proxy, e2e.modcache, "github.com/spf13/pflag", pflagV, "v1.0.10")
	target := installedCopy(t)
	unchangedBin := unchanged(t, target)
	out, errOut, err := run(t, target, []string{"GOPROXY=file://" + filepath.ToSlash(proxy), "GOSUMDB=off"}, "plugin", "add", "github.com/spf13/pflag@v1.0.10", "--keep-host-deps")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, "github.com/spf13/pflag "+pflagV+" => v1.0.10") || strings.Contains(errOut, compiling) {
		t.Fatalf("--keep-host-deps with a host module as the plugin: %v\n%s%s", err, out, errOut)
	}
	unchangedBin()
}

// A local folder whose module is a module of the host's build list (here a
// copy of the host's own pflag with one file added) moves that module:
// the plan lists it as a host dependency, and KeepHostDeps refuses it
// before building.
func TestKeepHostDepsLocalFolder(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	pflagV := required(t, "github.com/spf13/pflag")
	fork := filepath.Join(tempDir(t), "pflag")
	if err := copyRepo(filepath.Join(e2e.modcache, "github.com", "spf13", "pflag@"+pflagV), fork); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, fork, map[string]string{"zz_added.go": "package pflag\n\nfunc init() { println(\"the folder's pflag runs\") }\n"})
	target := installedCopy(t)
	unchangedBin := unchanged(t, target)
	dry := pluginCmd(t, target, nil, "add", "--dry-run", fork)
	if !strings.Contains(dry, "host dependency github.com/spf13/pflag "+pflagV+" => local "+fork) {
		t.Errorf("the plan does not list the host dependency the folder moves:\n%s", dry)
	}
	out, errOut, err := run(t, target, nil, "plugin", "add", "--keep-host-deps", fork)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, "github.com/spf13/pflag "+pflagV+" => local "+fork) || strings.Contains(errOut, compiling) {
		t.Fatalf("--keep-host-deps with a folder that is a host module: %v\n%s%s", err, out, errOut)
	}
	unchangedBin()
}

// A change moves a host module only when what it adds needs it, and
// KeepHostDeps compares with the installed binary, in a dry run as in the
// real one. The bundle carries the host's modules trimmed to the packages
// its targets build (golang.org/x/sys without its windows package here):
// a plugin that imports the host's library, whose Windows files import
// golang.org/x/sys/windows, must not raise x/sys to the proxy's newest.
// Once a plugin that moved pflag is installed, a plugin that moves nothing
// more passes --keep-host-deps; the dry run of a refused change is refused
// too.
func TestHostDepsMoveOnlyWhenNeeded(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	pflagV, sysV := required(t, "github.com/spf13/pflag"), required(t, "golang.org/x/sys")
	work := tempDir(t)
	proxy := filepath.Join(work, "proxy")
	publishCopy(t, proxy, e2e.modcache, "golang.org/x/sys", sysV, "v0.99.0")
	publishCopy(t, proxy, e2e.modcache, "github.com/spf13/pflag", pflagV, "v1.99.0")
	usehost := filepath.Join(work, "src", "usehost")
	writeFiles(t, usehost, map[string]string{
		"go.mod":    "module example.com/usehost\n\ngo 1.26\n",
		"plugin.go": "package usehost\n\nimport (\n\t\"fmt\"\n\n\tselfcompile \"github.com/shazow/go-selfcompile\"\n)\n\nfunc init() { fmt.Println(\"usehost activated.\", selfcompile.ErrLocked != nil) }\n",
	})
	writeProxyModule(t, proxy, "example.com/usehost", "v1.0.0", usehost)
	publishPluginH(t, proxy, filepath.Join(work, "src", "pluginh"))
	online := []string{"GOPROXY=" + fileProxy(proxy), "GOSUMDB=off"}
	bin := installedCopy(t)

	if dry := pluginCmd(t, bin, online, "add", "--dry-run", "example.com/usehost@v1.0.0"); strings.Contains(dry, "golang.org/x/sys") {
		t.Errorf("a plugin that needs no newer golang.org/x/sys moves it:\n%s", dry)
	}
	before := unchanged(t, bin)
	out, errOut, err := run(t, bin, online, "plugin", "add", "--dry-run", "--keep-host-deps", "example.com/pluginh@v1.0.0")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, "github.com/spf13/pflag "+pflagV+" => v1.99.0") {
		t.Errorf("a dry run with --keep-host-deps of a change the real run refuses: %v\n%s%s", err, out, errOut)
	}
	before()

	pluginCmd(t, bin, online, "add", "example.com/pluginh@v1.0.0")
	if out, errOut, err := run(t, bin, online, "plugin", "add", "--keep-host-deps", "example.com/usehost@v1.0.0"); err != nil {
		t.Fatalf("--keep-host-deps with a plugin that moves nothing the installed binary has: %v\n%s%s", err, out, errOut)
	}
	if out := mustRun(t, bin); out != "pluginh activated.\nusehost activated. true\nJust doing binary things\n" {
		t.Errorf("after both plugins: %q", out)
	}
	mods, err := command(work, nil, "go", "version", "-m", bin)
	for _, want := range []string{"\tgolang.org/x/sys\t" + sysV + "\t", "\tgithub.com/spf13/pflag\tv1.99.0\t"} {
		if err != nil || !strings.Contains(string(mods), want) {
			t.Errorf("go version -m lacks %q: %v\n%s", want, err, mods)
		}
	}
}
