package selfcompile_test

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A change that leaves the plugin set as it is (what configuration
// management runs on every pass) builds nothing, swaps nothing and keeps
// the rollback point: rollback still undoes the add. With --restart it
// does not restart either.
func TestSameChangeTwice(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	pluginCmd(t, target, nil, "add", aplugin)
	added := unchanged(t, target)
	for _, args := range [][]string{{"add", aplugin}, {"add", "--restart", aplugin}} {
		out, errOut, err := run(t, target, nil, append([]string{"plugin"}, args...)...)
		if err != nil || !strings.Contains(out, "Nothing to do") || strings.Contains(out, "Restarting") || strings.Contains(errOut, compiling) {
			t.Errorf("plugin %s again: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
	}
	added()
	pluginCmd(t, target, nil, "rollback")
	if out := mustRun(t, target); out != "Just doing binary things\n" {
		t.Errorf("rollback after the repeated add: %q", out)
	}
}

// upgrade never lowers a plugin's version: not from a prerelease newer
// than the latest release, nor from a version that has since been
// retracted. A lower version is installed only when named, and the plan
// says it is lower. Offline, an upgrade that needs the module proxy's
// list fails before building, naming the plugin, with exit code 4.
func TestUpgradeNeverLowers(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	work := tempDir(t)
	proxy := filepath.Join(work, "proxy")
	publish := func(path, version, goMod string) {
		d := filepath.Join(work, "src", filepath.Base(path)+"-"+version)
		writePlugin(t, d, path, filepath.Base(path)+" "+version)
		if goMod != "" {
			writeFiles(t, d, map[string]string{"go.mod": goMod})
		}
		writeProxyModule(t, proxy, path, version, d)
	}
	for _, v := range []string{"v1.0.0", "v1.1.0", "v1.2.0-rc.1"} {
		publish("example.com/rc", v, "")
	}
	publish("example.com/ret", "v1.0.0", "")
	publish("example.com/ret", "v1.1.0", "module example.com/ret\n\ngo 1.26\n\nretract v1.1.0 // a bad release\n")
	online := []string{"GOPROXY=" + fileProxy(proxy), "GOSUMDB=off"}
	target := installedCopy(t)
	pluginCmd(t, target, online, "add", "example.com/rc@v1.2.0-rc.1", "example.com/ret@v1.1.0")
	installed := unchanged(t, target)
	for _, args := range [][]string{{"upgrade"}, {"upgrade", "example.com/rc"}, {"upgrade", "example.com/ret"}} {
		out := pluginCmd(t, target, online, args...)
		if !strings.Contains(out, "Nothing to do") {
			t.Errorf("plugin %s:\n%s", strings.Join(args, " "), out)
		}
	}
	installed()
	if l := pluginCmd(t, target, nil, "list"); !strings.Contains(l, "example.com/rc v1.2.0-rc.1\n") || !strings.Contains(l, "example.com/ret v1.1.0\n") {
		t.Errorf("plugin list after the upgrades:\n%s", l)
	}
	dry := pluginCmd(t, target, online, "upgrade", "--dry-run", "example.com/rc@v1.1.0")
	if !strings.Contains(dry, "upgrade  example.com/rc v1.2.0-rc.1 => v1.1.0 (a lower version)") {
		t.Errorf("a named lower version:\n%s", dry)
	}
	for _, args := range [][]string{{"upgrade"}, {"upgrade", "example.com/rc"}, {"add", "example.com/rc@latest"}} {
		out, errOut, err := run(t, target, nil, append([]string{"plugin"}, args...)...)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(errOut, "plugin example.com/rc") || strings.Contains(errOut, compiling) {
			t.Errorf("offline plugin %s: %v, want exit code 4 naming the plugin\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
	}
	installed()
}
