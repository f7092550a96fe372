package selfcompile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pluginCmd runs "example-abinary plugin ARGS..." and fails the test unless
// it succeeds.
func pluginCmd(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, bin, env, append([]string{"plugin"}, args...)...)
	if err != nil {
		t.Fatalf("plugin %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// publishCopy publishes the module in the module cache at path@from to a
// proxy directory as path@to: the same code under a newer version.
func publishCopy(t *testing.T, proxy, modcache, path, from, to string) {
	t.Helper()
	src := filepath.Join(modcache, path+"@"+from)
	dst := filepath.Join(tempDir(t), "copy")
	if err := copyRepo(src, dst); err != nil {
		t.Fatal(err)
	}
	writeProxyModule(t, proxy, path, to, dst)
}

// TestPluginLifecycle drives add, upgrade, remove, dry runs, the host
// dependency policy, rollback and offline rebuilds through
// example-abinary's plugin commands, as a user would.
func TestPluginLifecycle(t *testing.T) {
	setupE2E(t)
	t.Parallel() // its own binaries, and caches that installs share safely: it runs beside the others
	pflagV := required(t, "github.com/spf13/pflag")
	work := tempDir(t)
	bin := filepath.Join(work, "bin", "example-abinary")
	copyBinary(t, e2e.abinary, bin)
	original := fileHash(t, bin)

	// A module proxy directory with pluginc v1.0.0 and v1.1.0, and pluginh,
	// which requires a newer github.com/spf13/pflag than the host's.
	proxy := filepath.Join(work, "proxy")
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		d := filepath.Join(work, "src", "pluginc-"+v)
		writePlugin(t, d, "example.com/pluginc", "pluginc "+v+" activated.")
		writeProxyModule(t, proxy, "example.com/pluginc", v, d)
	}
	publishCopy(t, proxy, e2e.modcache, "github.com/spf13/pflag", pflagV, "v1.99.0")
	publishPluginH(t, proxy, filepath.Join(work, "src", "pluginh"))
	online := []string{"GOPROXY=file://" + filepath.ToSlash(proxy), "GOSUMDB=off"}

	// Add A from a local folder, delete the folder, add B from another,
	// offline: both are active and listed.
	a := filepath.Join(work, "src", "plugina")
	b := filepath.Join(work, "src", "pluginb")
	writePlugin(t, a, "example.com/plugina", "plugina activated.")
	writePlugin(t, b, "example.com/pluginb", "pluginb activated.")
	pluginCmd(t, bin, nil, "add", a)
	if err := os.RemoveAll(a); err != nil {
		t.Fatal(err)
	}
	pluginCmd(t, bin, nil, "add", b)
	if out := mustRun(t, bin); out != "plugina activated.\npluginb activated.\nJust doing binary things\n" {
		t.Fatalf("after A and B: %q", out)
	}
	list := pluginCmd(t, bin, nil, "list")
	for _, want := range []string{"example.com/plugina local " + a + "\n", "example.com/pluginb local " + b + "\n"} {
		if !strings.Contains(list, want) {
			t.Errorf("plugin list lacks %q:\n%s", want, list)
		}
	}

	// C@v1.0.0 from the proxy, then upgraded to v1.1.0.
	pluginCmd(t, bin, online, "add", "example.com/pluginc@v1.0.0")
	if out := mustRun(t, bin); !strings.Contains(out, "pluginc v1.0.0 activated.") {
		t.Fatalf("after adding C: %q", out)
	}
	if l := pluginCmd(t, bin, nil, "list"); !strings.Contains(l, "example.com/pluginc v1.0.0\n") {
		t.Errorf("plugin list after adding C:\n%s", l)
	}
	beforeUpgrade := fileHash(t, bin)

	// Dry runs print the plan and change nothing.
	dry := pluginCmd(t, bin, online, "upgrade", "example.com/pluginc", "--dry-run")
	if !strings.Contains(dry, "upgrade  example.com/pluginc v1.0.0 => v1.1.0") || !strings.Contains(dry, "Dry run") {
		t.Errorf("upgrade --dry-run:\n%s", dry)
	}
	dry = pluginCmd(t, bin, nil, "remove", "example.com/plugina", "--dry-run")
	if !strings.Contains(dry, "remove   example.com/plugina local "+a) {
		t.Errorf("remove --dry-run:\n%s", dry)
	}
	dry = pluginCmd(t, bin, online, "add", "example.com/pluginh@v1.0.0", "--dry-run")
	for _, want := range []string{"add      example.com/pluginh v1.0.0", "host dependency github.com/spf13/pflag " + pflagV + " => v1.99.0"} {
		if !strings.Contains(dry, want) {
			t.Errorf("add --dry-run lacks %q:\n%s", want, dry)
		}
	}
	if fileHash(t, bin) != beforeUpgrade {
		t.Fatal("a dry run changed the binary")
	}

	// The host-dependency policy refuses before building.
	out2, errOut, err := run(t, bin, online, "plugin", "add", "example.com/pluginh@v1.0.0", "--keep-host-deps")
	if err == nil || !strings.Contains(errOut, "github.com/spf13/pflag "+pflagV+" => v1.99.0") || strings.Contains(errOut, compiling) {
		t.Fatalf("--keep-host-deps: %v\n%s%s", err, out2, errOut)
	}
	if fileHash(t, bin) != beforeUpgrade {
		t.Fatal("a refused install changed the binary")
	}

	pluginCmd(t, bin, online, "upgrade", "example.com/pluginc")
	if out := mustRun(t, bin); !strings.Contains(out, "pluginc v1.1.0 activated.") {
		t.Fatalf("after upgrading C: %q", out)
	}
	if l := pluginCmd(t, bin, nil, "list"); !strings.Contains(l, "example.com/pluginc v1.1.0\n") {
		t.Errorf("plugin list after upgrading C:\n%s", l)
	}
	upgraded := fileHash(t, bin)

	// Rollback puts back the binary from before the upgrade, byte for byte.
	pluginCmd(t, bin, nil, "rollback")
	if fileHash(t, bin) != beforeUpgrade {
		t.Fatal("rollback did not restore the previous binary")
	}
	pluginCmd(t, bin, nil, "rollback") // and undoes itself
	if fileHash(t, bin) != upgraded {
		t.Fatal("a second rollback did not return to the upgraded binary")
	}

	// The same plugin set rebuilds to the same bytes.
	pluginCmd(t, bin, nil, "upgrade", "example.com/plugina")
	if fileHash(t, bin) != upgraded {
		t.Error("rebuilding the same plugin set changed the binary")
	}

	// Remove A: gone from the list and the output; B and C remain.
	pluginCmd(t, bin, nil, "remove", "example.com/plugina")
	if out := mustRun(t, bin); out != "pluginb activated.\npluginc v1.1.0 activated.\nJust doing binary things\n" {
		t.Fatalf("after removing A: %q", out)
	}
	if l := pluginCmd(t, bin, nil, "list"); strings.Contains(l, "plugina") || !strings.Contains(l, "pluginb") || !strings.Contains(l, "pluginc") {
		t.Errorf("plugin list after removing A:\n%s", l)
	}

	// A copy of the binary, on a fresh HOME, offline, with B's folder gone:
	// remove C and add a local plugin.
	os.RemoveAll(b)
	fresh := filepath.Join(work, "fresh")
	copied := filepath.Join(fresh, "bin", "example-abinary")
	copyBinary(t, bin, copied)
	freshEnv := []string{"HOME=" + fresh, "XDG_CACHE_HOME=" + filepath.Join(fresh, "cache")}
	pluginCmd(t, copied, freshEnv, "remove", "example.com/pluginc")
	e := filepath.Join(work, "src", "plugine")
	writePlugin(t, e, "example.com/plugine", "plugine activated.")
	pluginCmd(t, copied, freshEnv, "add", e)
	if out := mustRun(t, copied); out != "pluginb activated.\nplugine activated.\nJust doing binary things\n" {
		t.Fatalf("the copy after remove and add: %q", out)
	}

	// Removing every plugin gives back the original binary, byte for byte.
	pluginCmd(t, copied, freshEnv, "remove", "example.com/pluginb", "example.com/plugine")
	if fileHash(t, copied) != original {
		t.Error("a rebuild without plugins differs from the original binary")
	}
	// What the installs keep can be listed and purged.
	usage := pluginCmd(t, copied, freshEnv, "cache")
	for _, kind := range []string{"toolchain", "build", "modules"} {
		if !strings.Contains(usage, kind+" ") {
			t.Errorf("plugin cache does not list the %s cache:\n%s", kind, usage)
		}
	}
	pluginCmd(t, copied, freshEnv, "cache", "--purge")
	left, _ := os.ReadDir(filepath.Join(fresh, "cache", "go-selfcompile"))
	for _, e := range left {
		// It keeps the cache's lock file, the record of the catalogs
		// verified (rollback protection) and of the plugins installed
		// (what an upgrade of the program drops).
		if kept := map[string]bool{".lock": true, "catalogs": true, "installed": true}; !kept[e.Name()] {
			t.Errorf("plugin cache --purge left %s in the cache: %v", e.Name(), left)
		}
	}
}

// publishPluginH publishes to the file proxy at proxy, from the folder dir,
// example.com/pluginh v1.0.0: a plugin that requires pflag v1.99.0, more
// than the host's, and so moves a host dependency.
func publishPluginH(t *testing.T, proxy, dir string) {
	t.Helper()
	writePlugin(t, dir, "example.com/pluginh", "pluginh activated.")
	writeFiles(t, dir, map[string]string{
		"go.mod":  "module example.com/pluginh\n\ngo 1.26\n\nrequire github.com/spf13/pflag v1.99.0\n",
		"uses.go": "package pluginh\n\nimport \"github.com/spf13/pflag\"\n\nvar _ = pflag.Parse\n",
	})
	writeProxyModule(t, proxy, "example.com/pluginh", "v1.0.0", dir)
}
