package selfcompile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/bundle"
)

// TestInstallAPlugin reproduces the 2015 transcript, offline.
func TestInstallAPlugin(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	before := fileHash(t, bin)
	if out := mustRun(t, bin); out != "Just doing binary things\n" {
		t.Fatalf("before install: %q", out)
	}
	out, errOut, err := run(t, bin, nil, "--plugin", aplugin)
	if err != nil {
		t.Fatalf("install: %v\n%s%s", err, out, errOut)
	}
	if !strings.HasPrefix(out, "Installing plugin: "+aplugin+"\n") || !strings.HasSuffix(out, "Success.\n") {
		t.Errorf("install output %q", out)
	}
	// The install ends with a summary: the time it took, the disk it
	// used (the install's workdir, at least, is gone, so the number is
	// what stayed), and where the backup is.
	if !regexp.MustCompile(`\nTook [0-9.]+m?s; the disk of the cache has [0-9.]+ MB (less|more) free than before \(what else wrote to it counts too\)\.\nThe previous binary is `).MatchString(errOut) {
		t.Errorf("the install does not end with a summary of its time, disk and backup:\n%s", errOut)
	}
	for _, want := range []string{"Initializing workdir\n", compiling, "Verifying the new binary\n", "Replacing binary: " + bin, "Cleaning up\n"} {
		if !strings.Contains(errOut, "[selfcompile] ") || !strings.Contains(errOut, want) {
			t.Errorf("install log lacks %q:\n%s", want, errOut)
		}
	}
	// The install's private directories are not named unless asked
	// (GO_SELFCOMPILE_VERBOSE=1): the workdir and the new binary's.
	if strings.Contains(errOut, "/work/install-") || strings.Contains(errOut, ".selfcompile-new-") {
		t.Errorf("the install log names its private directories:\n%s", errOut)
	}
	if fileHash(t, bin) == before {
		t.Fatal("the binary was not replaced")
	}
	if fi, _ := os.Stat(bin); fi.Mode().Perm() != 0o755 {
		t.Errorf("mode after install = %v, want 0755", fi.Mode().Perm())
	}
	if out := mustRun(t, bin); out != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after install: %q", out)
	}
	// -X main.version travels through the rebuild (a -trimpath binary does
	// not record -ldflags).
	if out := mustRun(t, bin, "--version"); !strings.Contains(out, "example-abinary 1.2.3-e2e") {
		t.Errorf("--version after install: %q", out)
	}
	onlyBeside(t, bin, 1)
	backups, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), ".example-abinary.selfcompile-backup-*"))
	if len(backups) == 1 && fileHash(t, backups[0]) != before {
		t.Error("the backup is not the previous binary")
	}
}

// TestInstallLocalPlugins installs two plugins from local directories, one
// after the other: the second install keeps the first.
func TestInstallLocalPlugins(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	src := tempDir(t)
	writePlugin(t, filepath.Join(src, "pluga"), "example.com/pluga", "pluga activated.")
	writePlugin(t, filepath.Join(src, "plugb"), "example.com/plugb", "plugb activated.")
	mustRun(t, bin, "--plugin", filepath.Join(src, "pluga"))
	if out := mustRun(t, bin); out != "pluga activated.\nJust doing binary things\n" {
		t.Fatalf("after the first install: %q", out)
	}
	// A relative path, as a user types it.
	cmd := exec.Command(bin, "--plugin", "./plugb")
	cmd.Dir = src
	cmd.Env = userEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second install: %v\n%s", err, out)
	}
	if out := mustRun(t, bin); out != "pluga activated.\nplugb activated.\nJust doing binary things\n" {
		t.Fatalf("after the second install: %q", out)
	}
}

// TestLocalPluginChanged: adding a local plugin again reads its folder
// again, and what was deleted from it is gone from the build and from what
// the binary carries.
func TestLocalPluginChanged(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	dir := filepath.Join(tempDir(t), "changing")
	writeFiles(t, dir, map[string]string{"go.mod": "module example.com/changing\n\ngo 1.26\n",
		"a.go": "package changing\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\"changing\", B()) }\n",
		"b.go": "package changing\n\nfunc B() string { return \"v1\" }\n"})
	pluginCmd(t, bin, nil, "add", dir)
	os.Remove(filepath.Join(dir, "b.go"))
	writeFiles(t, dir, map[string]string{"a.go": "package changing\n\nimport \"fmt\"\n\nfunc B() string { return \"v2\" }\n\nfunc init() { fmt.Println(\"changing\", B()) }\n"})
	pluginCmd(t, bin, nil, "add", dir)
	if out := mustRun(t, bin); out != "changing v2\nJust doing binary things\n" {
		t.Fatalf("after the second add: %q", out)
	}
	if got := partFiles(t, bin, bundle.Plugins, bundle.PartLocal); !slices.Equal(got, []string{"example.com/changing/a.go", "example.com/changing/go.mod"}) {
		t.Errorf("the binary carries %q", got)
	}
}

// TestFailedInstallKeepsBinary installs a plugin that does not compile:
// the binary stays byte-identical and the error names the plugin and why.
func TestFailedInstallKeepsBinary(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	unchangedBin := unchanged(t, bin)
	dir := filepath.Join(tempDir(t), "broken")
	writePlugin(t, dir, "example.com/broken", "never")
	writeFiles(t, dir, map[string]string{"bad.go": "package broken\n\nvar x int = \"not a number\"\n"})
	out, errOut, err := run(t, bin, nil, "--plugin", dir)
	if err == nil || strings.Contains(out, "Success.") {
		t.Fatalf("install of a broken plugin succeeded:\n%s", out)
	}
	for _, want := range []string{"build failed for plugin " + dir, "cannot use \"not a number\"", "installed binary is unchanged"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error lacks %q:\n%s", want, errOut)
		}
	}
	unchangedBin()
	onlyBeside(t, bin, 0)
}

// TestLocalModulePackages: several packages of one local folder's module
// install together, and another of them later beside those kept; two
// folders that claim one module path in one change are refused, the
// binary unchanged.
func TestLocalModulePackages(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	dir := filepath.Join(tempDir(t), "multi")
	pkg := func(name string) string {
		return "package " + name + "\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\"multi/" + name + " activated.\") }\n"
	}
	writeFiles(t, dir, map[string]string{"go.mod": "module example.com/multi\n\ngo 1.26\n",
		"a/a.go": pkg("a"), "b/b.go": pkg("b"), "c/c.go": pkg("c")})
	pluginCmd(t, bin, nil, "add", filepath.Join(dir, "a"), filepath.Join(dir, "b"))
	pluginCmd(t, bin, nil, "add", filepath.Join(dir, "c"))
	if out := mustRun(t, bin); out != "multi/a activated.\nmulti/b activated.\nmulti/c activated.\nJust doing binary things\n" {
		t.Fatalf("after adding three packages of one folder: %q", out)
	}
	other := filepath.Join(tempDir(t), "othermulti")
	writeFiles(t, other, map[string]string{"go.mod": "module example.com/multi\n\ngo 1.26\n", "d/d.go": pkg("d")})
	check := unchanged(t, bin)
	if _, errOut, err := run(t, bin, nil, "plugin", "add", filepath.Join(other, "d"), filepath.Join(dir, "a")); err == nil || !strings.Contains(errOut, "its module example.com/multi is the module of") {
		t.Errorf("two folders of one module: %v\n%s", err, errOut)
	}
	check()
}
