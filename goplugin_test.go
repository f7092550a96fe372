//go:build linux

package selfcompile_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// greeter is example/greeter, generated and built once per test run, in a
// copy of the repository.
var greeter struct {
	once      sync.Once
	repo, bin string
	err       error
}

// greeterHost returns a copy of example/greeter, built with cgo, and the
// repository it was built in.
func greeterHost(t *testing.T) (repo, bin string) {
	t.Helper()
	greeter.once.Do(func() {
		greeter.repo = filepath.Join(e2e.work, "greeter-repo")
		if greeter.err = copyRepo(e2e.repo, greeter.repo); greeter.err != nil {
			return
		}
		if out, err := command(filepath.Join(greeter.repo, "example", "greeter"), nil, e2e.gen, "--level", "fastest", "-q"); err != nil {
			greeter.err = fmt.Errorf("generating: %v\n%s", err, out)
			return
		}
		greeter.bin = filepath.Join(e2e.work, "bin", "greeter")
		greeter.err = buildGreeter(greeter.repo, greeter.bin)
	})
	if greeter.err != nil {
		t.Fatal(greeter.err)
	}
	bin = filepath.Join(tempDir(t), "bin", "greeter")
	copyBinary(t, greeter.bin, bin)
	return greeter.repo, bin
}

// buildGreeter builds the greeter of repo, with the environment added
// (CGO_ENABLED=0, say).
func buildGreeter(repo, bin string, env ...string) error {
	gocache := filepath.Join(e2e.cacheDir, "go-selfcompile", "build")
	args := []string{"build", "-trimpath", "-buildvcs=false", "-o", bin, "./example/greeter"}
	if out, err := command(repo, append([]string{"GOCACHE=" + gocache}, env...), "go", args...); err != nil {
		return fmt.Errorf("building the greeter: %v\n%s", err, out)
	}
	return nil
}

// needCC skips a test of Go plugins on a machine without a C compiler,
// which links them.
func needCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		t.Skip("no C compiler: Go plugins need one")
	}
}

// shell runs the greeter's shell with the commands as its input, and
// returns what it printed.
func shell(t *testing.T, bin string, env []string, commands ...string) string {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = userEnv(env...)
	cmd.Stdin = strings.NewReader(strings.Join(append(commands, "quit"), "\n") + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("greeter: %v\n%s", err, out)
	}
	return string(out)
}

// TestGoPlugins: example/greeter, the classic Go plugin driver as a
// go-selfcompile host, loads chi live (built for it by the library, checked
// by a probe of the program with chi compiled in, opened after its sha256
// is checked), greets in Chinese, and after a restart has chi compiled in.
// A .so of chi built by hand without -trimpath fails plugin.Open with the
// version error; a .so changed after it was built is refused before
// plugin.Open; what cannot be loaded is refused before building, with the
// running process unaffected: a plugin already in it, a plugin that panics
// in init, a program built without cgo, a machine without a C compiler.
func TestGoPlugins(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	needCC(t)
	repo, bin := greeterHost(t)
	_, fresh := greeterHost(t) // one that has never loaded a plugin, for the checks after
	panicky := plugin(t, map[string]string{"go.mod": "module example.com/panicky\n\ngo 1.26\n", "p.go": "package panicky\n\nfunc init() { panic(\"panicky plugin\") }\n"})
	out := shell(t, bin, nil, "greet english", "load chi", "greet chinese", "load chi", "load "+panicky, "greet english", "list")
	for _, want := range []string{
		"Hello Universe\n",
		"loaded github.com/shazow/go-selfcompile/example/greeter/chi\n",
		"你好宇宙\n",
		"error: selfcompile: the plugin is already in the running program: github.com/shazow/go-selfcompile/example/greeter/chi is in it already, as asked (github.com/shazow/go-selfcompile/example/greeter/chi host): there is nothing to load\n",
		"error: selfcompile: the new binary failed verification (plugin example.com/panicky)",
		"loaded live: github.com/shazow/go-selfcompile/example/greeter/chi host\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the greeter's shell does not say %q:\n%s", want, out)
		}
	}
	// chi, loaded already, is not another plugin to install and restart
	// for (TestGoPluginsModules has the refusals that are).
	if strings.Contains(out, "chi cannot be loaded into this process") {
		t.Errorf("the greeter's shell tells to install chi, which it has:\n%s", out)
	}
	if strings.Count(out, "Hello Universe\n") != 2 || strings.Contains(out, "panicky plugin\n>") || strings.Contains(out, panicky+" cannot be loaded") {
		t.Errorf("the running process was affected by a refused load:\n%s", out)
	}
	// Restarted, it has chi compiled in.
	if out := shell(t, bin, nil, "greet chinese", "list"); !strings.Contains(out, "你好宇宙\n") || !strings.Contains(out, "compiled in: github.com/shazow/go-selfcompile/example/greeter/chi host") {
		t.Errorf("after a restart:\n%s", out)
	}

	// A hand-built .so of the same plugin, without -trimpath, in a fresh
	// process (a failed plugin.Open stays in the process).
	writeFiles(t, filepath.Join(repo, "example", "greeter", "plainso"), map[string]string{"main.go": "package main\n\nimport \"github.com/shazow/go-selfcompile/example/greeter/chi\"\n\nvar Greeter = chi.Greeter\n\nfunc main() {}\n"})
	plain := filepath.Join(tempDir(t), "chi.so")
	if out, err := command(repo, nil, "go", "build", "-buildmode=plugin", "-o", plain, "./example/greeter/plainso"); err != nil {
		t.Fatalf("go build -buildmode=plugin: %v\n%s", err, out)
	}
	if out := shell(t, fresh, nil, "open "+plain); !strings.Contains(out, "plugin was built with a different version of package") {
		t.Errorf("opening a hand-built .so:\n%s", out)
	}
	// A .so the library built, changed afterwards, is not opened.
	out = shell(t, fresh, nil, "build chi")
	f := strings.Fields(out[strings.Index(out, "built "):])
	if len(f) < 3 {
		t.Fatalf("build chi:\n%s", out)
	}
	so, sum := f[1], f[2]
	data, _ := os.ReadFile(so)
	os.WriteFile(so, append(data, 0), 0o644)
	if out := shell(t, fresh, nil, "open "+so+" "+sum, "greet english"); !strings.Contains(out, "error: live: the plugin's shared object changed after it was built") || !strings.Contains(out, "Hello Universe") {
		t.Errorf("opening a changed .so:\n%s", out)
	}

	// No C compiler on the machine; a program built without cgo.
	if out := shell(t, fresh, []string{"PATH=" + tempDir(t), "CC="}, "load chi"); !strings.Contains(out, "error: selfcompile: no C compiler") || !strings.Contains(out, "chi cannot be loaded into this process") {
		t.Errorf("without a C compiler:\n%s", out)
	}
	nocgo := filepath.Join(tempDir(t), "bin", "greeter")
	if err := buildGreeter(repo, nocgo, "CGO_ENABLED=0"); err != nil {
		t.Fatal(err)
	}
	if out := shell(t, nocgo, nil, "load chi", "greet english"); !strings.Contains(out, "error: selfcompile: this program cannot load Go plugins: this program was built without cgo") || !strings.Contains(out, "chi cannot be loaded into this process") || !strings.Contains(out, "Hello Universe") {
		t.Errorf("a program built without cgo:\n%s", out)
	}
}

// A plugin that would need a module version other than the running
// program's is refused before building; so is another version of a
// plugin loaded already.
func TestGoPluginsModules(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	needCC(t)
	pflagV := required(t, "github.com/spf13/pflag")
	work := tempDir(t)
	proxy := filepath.Join(work, "proxy")
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		d := filepath.Join(work, "src", "pluginc-"+v)
		writePlugin(t, d, "example.com/pluginc", "pluginc "+v)
		writeProxyModule(t, proxy, "example.com/pluginc", v, d)
	}
	publishCopy(t, proxy, e2e.modcache, "github.com/spf13/pflag", pflagV, "v1.99.0")
	newer := plugin(t, map[string]string{"go.mod": "module example.com/newer\n\ngo 1.26\n\nrequire github.com/spf13/pflag v1.99.0\n",
		"p.go": "package newer\n\nimport \"github.com/spf13/pflag\"\n\nvar _ = pflag.Parse\n"})
	_, bin := greeterHost(t)
	online := []string{"GOPROXY=" + fileProxy(proxy), "GOSUMDB=off"}
	out := shell(t, bin, online, "load example.com/pluginc@v1.0.0", "load example.com/pluginc@v1.1.0", "load "+newer, "list")
	for _, want := range []string{
		"pluginc v1.0.0\nloaded example.com/pluginc\n",
		"error: selfcompile: the plugin is already in the running program: example.com/pluginc is in it already (example.com/pluginc v1.0.0)",
		"error: selfcompile: the plugin needs module versions other than the running program's: github.com/spf13/pflag " + pflagV + " => v1.99.0",
		"loaded live: example.com/pluginc v1.0.0\n",
		"example.com/pluginc@v1.1.0 cannot be loaded into this process; to have it, run: greeter plugin add example.com/pluginc@v1.1.0, and restart\n",
		newer + " cannot be loaded into this process",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the greeter's shell does not say %q:\n%s", want, out)
		}
	}
}

// A program with a plugin from a local folder compiled in loads another
// live: the running program's record of the local module (a directory in
// an install's workdir, gone since) is no version mismatch.
func TestGoPluginAfterLocalInstall(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	needCC(t)
	_, bin := greeterHost(t)
	compiledIn := filepath.Join(tempDir(t), "compiledin")
	writePlugin(t, compiledIn, "example.com/compiledin", "compiledin activated.")
	pluginCmd(t, bin, nil, "add", compiledIn)
	second := filepath.Join(tempDir(t), "livetoo")
	writePlugin(t, second, "example.com/livetoo", "livetoo activated.")
	if out := shell(t, bin, nil, "load "+second); !strings.Contains(out, "livetoo activated.\nloaded example.com/livetoo\n") {
		t.Errorf("loading a plugin live beside one from a local folder:\n%s", out)
	}
}
