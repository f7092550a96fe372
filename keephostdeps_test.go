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
