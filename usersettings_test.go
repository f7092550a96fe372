package selfcompile_test

import (
	"path/filepath"
	"testing"
)

// TestGoEnvFile: the network settings of the user's go env file (go env
// -w) reach installs that use the network; the build settings in it, as
// GOFLAGS, do not.
func TestGoEnvFile(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	work := tempDir(t)
	proxy := filepath.Join(work, "proxy")
	src := filepath.Join(work, "envplugin")
	writePlugin(t, src, "example.com/envplugin", "envplugin from the env file's proxy.")
	writeProxyModule(t, proxy, "example.com/envplugin", "v1.0.0", src)
	config := filepath.Join(work, "config")
	writeFiles(t, config, map[string]string{"go/env": "GOPROXY=file://" + filepath.ToSlash(proxy) + "\nGOSUMDB=off\nGOFLAGS=-toolexec=/nonexistent/toolexec\n"})
	bin := installedCopy(t)
	// GOPROXY is empty in the environment, which the go command, and so
	// the install, take as unset.
	pluginCmd(t, bin, []string{"XDG_CONFIG_HOME=" + config, "GOPROXY=", "GOSUMDB=", "GOFLAGS="}, "add", "example.com/envplugin@v1.0.0")
	if out := mustRun(t, bin); out != "envplugin from the env file's proxy.\nJust doing binary things\n" {
		t.Fatalf("after the install: %q", out)
	}
}
