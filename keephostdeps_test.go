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
	proxy := filepath.Join(tempDir(t), "proxy")
	publishCopy(t, proxy, e2e.modcache, "github.com/spf13/pflag", "v1.1.0", "v1.0.10")
	target := installedCopy(t)
	unchangedBin := unchanged(t, target)
	out, errOut, err := run(t, target, []string{"GOPROXY=file://" + filepath.ToSlash(proxy), "GOSUMDB=off"}, "plugin", "add", "github.com/spf13/pflag@v1.0.10", "--keep-host-deps")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, "github.com/spf13/pflag v1.1.0 => v1.0.10") || strings.Contains(errOut, "Compiling workdir") {
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
	fork := filepath.Join(tempDir(t), "pflag")
	if err := copyRepo(filepath.Join(e2e.modcache, "github.com", "spf13", "pflag@v1.1.0"), fork); err != nil {
		t.Fatal(err)
	}
	writeFiles(t, fork, map[string]string{"zz_added.go": "package pflag\n\nfunc init() { println(\"the folder's pflag runs\") }\n"})
	target := installedCopy(t)
	unchangedBin := unchanged(t, target)
	dry := pluginCmd(t, target, nil, "add", "--dry-run", fork)
	if !strings.Contains(dry, "host dependency github.com/spf13/pflag v1.1.0 => local "+fork) {
		t.Errorf("the plan does not list the host dependency the folder moves:\n%s", dry)
	}
	out, errOut, err := run(t, target, nil, "plugin", "add", "--keep-host-deps", fork)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, "github.com/spf13/pflag v1.1.0 => local "+fork) || strings.Contains(errOut, "Compiling workdir") {
		t.Fatalf("--keep-host-deps with a folder that is a host module: %v\n%s%s", err, out, errOut)
	}
	unchangedBin()
}
