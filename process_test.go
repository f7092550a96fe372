package selfcompile_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// A process plugin is built in a module graph of its own: one that needs
// a newer version of a module the host pins (pflag, v1.0.5 in the host)
// installs offline from a local folder, against the host's exact code (a
// function of this version of the host module), with the host's binary
// byte for byte as it was; its executable is beside the program, recorded
// in the manifest with its sha256, and runs with the newer module.
// Installing it again keeps the previous executable.
func TestProcessPluginOwnModuleGraph(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	const newer = "v1.0.6"
	if host := required(t, "github.com/spf13/pflag"); host == newer {
		t.Fatalf("the host requires pflag %s already: the test needs a lower version", host)
	}
	bin := installedCopy(t)
	same := unchanged(t, bin)
	dir := filepath.Join(tempDir(t), "procplug")
	writeFiles(t, dir, map[string]string{
		"go.mod": "module example.com/procplug\n\ngo 1.26\n\nrequire (\n\tgithub.com/shazow/go-selfcompile v0.0.0\n\tgithub.com/spf13/pflag " + newer + "\n)\n\nreplace github.com/shazow/go-selfcompile => ../does-not-exist\n",
		"go.sum": moduleSums(t, "github.com/spf13/pflag@"+newer),
		"main.go": `package main

import (
	"fmt"
	"runtime/debug"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/spf13/pflag"
)

func main() {
	fs := pflag.NewFlagSet("procplug", pflag.ContinueOnError)
	name := fs.String("name", "", "")
	fs.Parse([]string{"--name=world"})
	bi, _ := debug.ReadBuildInfo()
	for _, d := range bi.Deps {
		if d.Path == "github.com/spf13/pflag" {
			fmt.Println("hello", *name, "with pflag", d.Version)
		}
	}
	fmt.Println(selfcompile.DefaultProcessDir("/opt/tool"))
}
`,
	})
	env := []string{"GOPROXY=" + fileProxy(filepath.Join(e2e.modcache, "cache", "download"))}
	out, errOut, err := run(t, bin, env, "plugin", "add", "--process", dir)
	if err != nil {
		t.Fatalf("plugin add --process: %v\n%s\nstderr:\n%s", err, out, errOut)
	}
	same()
	exe := filepath.Join(filepath.Dir(bin), "example-abinary.plugins", "procplug")
	got, err := exec.Command(exe).CombinedOutput()
	if want := "hello world with pflag " + newer + "\n/opt/tool.plugins\n"; err != nil || string(got) != want {
		t.Errorf("the process plugin printed %q (%v), want %q", got, err, want)
	}
	plugins := readManifest(t, filepath.Dir(exe))
	if len(plugins) != 1 || plugins[0].SHA256 != fileHash(t, exe) || plugins[0].Local != dir || plugins[0].ImportPath != "example.com/procplug" || !strings.HasPrefix(plugins[0].GoVersion, "go1.") {
		t.Errorf("the manifest records %+v; the executable's sha256 is %s", plugins, fileHash(t, exe))
	}
	if list := mustRun(t, bin, "plugin", "list"); list != "example.com/procplug process procplug local "+dir+"\n" {
		t.Errorf("plugin list:\n%s", list)
	}
	first := fileHash(t, exe)
	if out, errOut, err := run(t, bin, env, "plugin", "add", "--process", dir); err != nil {
		t.Fatalf("plugin add --process again: %v\n%s\nstderr:\n%s", err, out, errOut)
	}
	if fileHash(t, exe+".previous") != first || readManifest(t, filepath.Dir(exe))[0].Previous != first {
		t.Errorf("the second install did not keep the first executable as %s.previous", exe)
	}
	same()
}

// moduleSums downloads module@version into the tests' module cache and
// returns its go.sum lines.
func moduleSums(t *testing.T, modVersion string) string {
	t.Helper()
	out, err := command(e2e.work, []string{"GOFLAGS=-mod=mod"}, "go", "mod", "download", "-json", modVersion)
	if err != nil {
		t.Fatalf("go mod download %s: %v\n%s", modVersion, err, out)
	}
	var m struct{ Path, Version, Sum, GoModSum string }
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s %s %s\n%s %s/go.mod %s\n", m.Path, m.Version, m.Sum, m.Path, m.Version, m.GoModSum)
}

// readManifest reads the process plugins' manifest in dir.
func readManifest(t *testing.T, dir string) []selfcompile.ProcessPlugin {
	t.Helper()
	plugins, err := selfcompile.ReadProcessPlugins(dir)
	if err != nil {
		t.Fatal(err)
	}
	return plugins
}
