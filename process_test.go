package selfcompile_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/catalog"
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
	vendored := refusedByPolicy(t, bin, dir)
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
	// Installed without the vendor's policy, it is what plugin check
	// reports under it, as a compiled-in plugin from a folder would be.
	if problems, err := vendored.Check(t.Context()); err != nil || len(problems) != 1 || problems[0].Plugin != "example.com/procplug" || !strings.Contains(problems[0].Reason, "no longer allowed") {
		t.Errorf("Check under a policy that admits no folder: %+v, %v", problems, err)
	}
	first := fileHash(t, exe)
	if out, errOut, err := run(t, bin, env, "plugin", "upgrade", "--process", "procplug"); err != nil || !strings.Contains(out, "Installed example.com/procplug ("+dir+")") {
		t.Fatalf("plugin upgrade --process, which builds it from its folder again: %v\n%s\nstderr:\n%s", err, out, errOut)
	}
	if fileHash(t, exe+".previous") != first || readManifest(t, filepath.Dir(exe))[0].Previous != first {
		t.Errorf("the second install did not keep the first executable as %s.previous", exe)
	}
	same()
}

// refusedByPolicy checks that a vendor's policy that allows only its
// catalog's plugins refuses the folder dir as a process plugin, before
// building, as it refuses it as a compiled-in plugin. It returns the
// installer with that vendor.
func refusedByPolicy(t *testing.T, bin, dir string) *selfcompile.SelfCompile {
	t.Helper()
	signer, verifier, _ := catalog.GenerateKey("example.com/abinary")
	signed, err := catalog.Sign(&catalog.Catalog{Name: "example.com/abinary", Sequence: 1, Date: time.Now()}, signer)
	if err != nil {
		t.Fatal(err)
	}
	sc := installer(t, bin)
	sc.Vendor = &catalog.Config{Name: "example.com/abinary", Keys: []string{verifier}, Embedded: signed, Policy: catalog.Policy{Allow: catalog.AllowCatalog}}
	var compiled, process *catalog.RefusedError
	_, cerr := sc.Plan(t.Context(), selfcompile.Change{Add: []string{dir}})
	_, perr := sc.InstallProcess(t.Context(), dir)
	if !errors.As(cerr, &compiled) || !errors.As(perr, &process) || !errors.Is(perr, selfcompile.ErrNotAllowed) ||
		compiled.Rule != process.Rule || compiled.Reason != process.Reason {
		t.Errorf("the policy refused the folder as a compiled-in plugin with %v, and as a process plugin with %v", cerr, perr)
	}
	if plugins, err := sc.ProcessPlugins(); err != nil || len(plugins) != 0 {
		t.Errorf("after the refusal: %v, %v", plugins, err)
	}
	return sc
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

// TestProcessHost is issue 29's acceptance, with example/processhost, a
// module of its own that requires go-plugin (this module does not), and
// its two example plugins. A running host ("processhost serve") gains a
// process plugin installed meanwhile, offline from its folder, without a
// restart: one that needs pflag v1.0.6 where the host's build list has
// v1.0.5, which stays so (the host's binary is byte for byte unchanged).
// A plugin that panics in a call leaves the host serving, and the error
// names it and its panic. An executable changed on disk after its install
// is refused before it is started.
func TestProcessHost(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	if out, err := command(e2e.repo, nil, "go", "list", "-m", "all"); err != nil || strings.Contains(string(out), "hashicorp/go-plugin") {
		t.Errorf("this module's build list names go-plugin (%v):\n%s", err, out)
	}
	repo := filepath.Join(tempDir(t), "repo")
	if err := copyRepo(e2e.repo, repo); err != nil {
		t.Fatal(err)
	}
	host := filepath.Join(repo, "example", "processhost")
	// With the build cache of the tests' go commands, which outlives the
	// run: go-plugin and gRPC compile once, for the build of the host and
	// (--warm-cache) for the installs of its plugins.
	if out, err := command(host, nil, "go", "tool", "go-selfcompile", "--warm-cache", "--level", "fastest", "-q"); err != nil {
		t.Fatalf("generating: %v\n%s", err, out)
	}
	bin := filepath.Join(tempDir(t), "bin", "processhost")
	if out, err := command(host, nil, "go", "build", "-trimpath", "-buildvcs=false", "-o", bin, "."); err != nil {
		t.Fatalf("building the host: %v\n%s", err, out)
	}
	if out, err := command(host, nil, "go", "version", "-m", bin); err != nil || !strings.Contains(string(out), "\tgithub.com/spf13/pflag\tv1.0.5\t") {
		t.Fatalf("the host's build has no pflag v1.0.5 (%v):\n%s", err, out)
	}
	same := unchanged(t, bin)
	moduleSums(t, "github.com/spf13/pflag@v1.0.6") // the file proxy serves it
	env := []string{"GOPROXY=" + fileProxy(filepath.Join(e2e.modcache, "cache", "download"))}
	srv := start(t, bin, env, "serve")
	if got := srv.ask(t, "greet hello you"); !strings.HasPrefix(got, "error: process plugin hello: not installed") {
		t.Errorf("before the install: %s", got)
	}
	for _, p := range []string{"hello", "panicky"} {
		if out, errOut, err := run(t, bin, env, "plugin", "add", "--process", filepath.Join(host, "plugins", p)); err != nil {
			t.Fatalf("plugin add --process %s: %v\n%s\nstderr:\n%s", p, err, out, errOut)
		}
	}
	same()
	if got := srv.ask(t, "greet hello you"); got != "hello: hello you, from a process plugin built with pflag v1.0.6" {
		t.Errorf("the running host, after the install: %s", got)
	}
	if got := srv.ask(t, "greet panicky you"); !strings.HasPrefix(got, "error: process plugin panicky: ") || !strings.Contains(got, "panic: panicky cannot greet you") {
		t.Errorf("a plugin that panics: %s", got)
	}
	if got := srv.ask(t, "greet hello again"); got != "hello: hello again, from a process plugin built with pflag v1.0.6" {
		t.Errorf("the running host, after a plugin panicked: %s", got)
	}
	srv.stdin.Close() // the host stops its plugins as it ends: Linux writes no running executable
	if err := srv.wait(); err != nil {
		t.Errorf("the host, at the end of its input: %v\n%s", err, srv.stderr.String())
	}
	exe := filepath.Join(filepath.Dir(bin), "processhost.plugins", "hello")
	f, err := os.OpenFile(exe, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("tampered"))
	f.Close()
	if out, errOut, err := run(t, bin, env, "greet", "hello", "you"); err == nil || !strings.Contains(errOut, "process plugin hello: its executable changed since its install: "+exe) {
		t.Errorf("a changed executable: %v\n%s\nstderr:\n%s", err, out, errOut)
	}
	same()
}

// ask writes a line to the process's standard input and returns the next
// line it prints on standard output, without its line end (Windows
// programs end lines with \r\n).
func (r *installRun) ask(t *testing.T, line string) string {
	t.Helper()
	before := strings.Count(r.stdout.String(), "\n")
	r.stdin.Write([]byte(line + "\n"))
	deadline := time.After(time.Minute)
	for {
		if out := r.stdout.String(); strings.Count(out, "\n") > before {
			return strings.TrimSuffix(strings.Split(out, "\n")[before], "\r")
		}
		select {
		case <-r.done:
			t.Fatalf("the host ended (%v) after %q:\n%s%s", r.err, line, r.stdout.String(), r.stderr.String())
		case <-deadline:
			t.Fatalf("no answer to %q:\n%s", line, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// A process plugin given by its main package's import path is fetched
// from the module proxy (here a file proxy: no network), at the version
// asked for or the latest, built in its module's own graph against the
// host's source, and recorded with its version; plugin upgrade --process
// takes it to its module's latest version; the host's binary is unchanged.
func TestProcessPluginFromModule(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	same := unchanged(t, bin)
	proxy := filepath.Join(tempDir(t), "proxy")
	publish := func(v string) {
		src := filepath.Join(tempDir(t), "src-"+v)
		writeFiles(t, src, map[string]string{
			"go.mod": "module example.com/procmod\n\ngo 1.26\n\nrequire github.com/shazow/go-selfcompile v0.0.0\n",
			"cmd/greet/main.go": `package main

import (
	"fmt"

	selfcompile "github.com/shazow/go-selfcompile"
)

func main() { fmt.Println("greet ` + v + `", selfcompile.DefaultProcessDir("/opt/tool")) }
`,
		})
		writeProxyModule(t, proxy, "example.com/procmod", v, src)
	}
	publish("v1.2.0")
	publish("v1.3.0")
	env := []string{"GOPROXY=" + fileProxy(proxy, filepath.Join(e2e.modcache, "cache", "download")), "GONOSUMDB=example.com/procmod"}
	exe := filepath.Join(filepath.Dir(bin), "example-abinary.plugins", "greet")
	for _, c := range []struct{ spec, version string }{
		{"example.com/procmod/cmd/greet@v1.2.0", "v1.2.0"},
		{"example.com/procmod/cmd/greet", "v1.3.0"}, // latest
		{"upgrade", "v1.4.0"},
	} {
		args := []string{"plugin", "add", "--process", c.spec}
		if c.spec == "upgrade" {
			publish(c.version)
			args = []string{"plugin", "upgrade", "--process"} // all of them
		}
		if out, errOut, err := run(t, bin, env, args...); err != nil {
			t.Fatalf("plugin add --process %s: %v\n%s\nstderr:\n%s", c.spec, err, out, errOut)
		}
		got, err := exec.Command(exe).CombinedOutput()
		if want := "greet " + c.version + " /opt/tool.plugins\n"; err != nil || string(got) != want {
			t.Errorf("%s: the process plugin printed %q (%v), want %q", c.spec, got, err, want)
		}
		plugins := readManifest(t, filepath.Dir(exe))
		if len(plugins) != 1 || plugins[0].Version != c.version || plugins[0].Local != "" || plugins[0].Module != "example.com/procmod" || plugins[0].SHA256 != fileHash(t, exe) {
			t.Errorf("%s: the manifest records %+v", c.spec, plugins)
		}
		if list := mustRun(t, bin, "plugin", "list"); list != "example.com/procmod/cmd/greet process greet "+c.version+"\n" {
			t.Errorf("%s: plugin list:\n%s", c.spec, list)
		}
	}
	if _, err := os.Stat(exe + ".previous"); err != nil {
		t.Errorf("the install of v1.3.0 kept no previous executable: %v", err)
	}
	// A lock file lists it; sync installs it again after its removal.
	lock := filepath.Join(tempDir(t), "plugins.lock")
	if err := os.WriteFile(lock, []byte(mustRun(t, bin, "plugin", "list", "--lock")), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRun(t, bin, "plugin", "remove", "--process", "greet")
	if _, err := os.Stat(exe); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("after remove --process: %v", err)
	}
	if out, errOut, err := run(t, bin, env, "plugin", "sync", lock); err != nil || !strings.Contains(out, "Installing process plugin: example.com/procmod/cmd/greet@v1.4.0") {
		t.Fatalf("plugin sync of the lock: %v\n%s\nstderr:\n%s", err, out, errOut)
	}
	if got, err := exec.Command(exe).CombinedOutput(); err != nil || string(got) != "greet v1.4.0 /opt/tool.plugins\n" {
		t.Errorf("after the sync, the process plugin printed %q (%v)", got, err)
	}
	same()
}

// A vendor's catalog lists process plugins as such: plugin add --process
// NAME installs the version it allows, from the module proxy, checked
// against the hash it lists whatever GOSUMDB and GONOSUMDB say, and
// records where it came from; a listed version whose files are not the
// catalog's is refused, nothing installed. A name of either kind given
// to the other kind's install is refused, saying which to use.
func TestProcessPluginFromCatalog(t *testing.T) {
	setupE2E(t)
	v := newVendor(t)
	for _, name := range []string{"greetp", "badp"} {
		v.publishFiles("example.com/"+name, "v1.0.0", map[string]string{
			"go.mod":                   "module example.com/" + name + "\n\ngo 1.26\n",
			"cmd/" + name + "/main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + name + " v1.0.0\") }\n",
		})
	}
	cat := v.catalog(1, []string{"v1.0.0"})
	for name, sum := range map[string]string{"greetp": v.sums["example.com/greetp@v1.0.0"], "badp": v.sums["example.com/greetp@v1.0.0"]} {
		cat.Plugins = append(cat.Plugins, catalog.Plugin{Name: name, Kind: catalog.KindProcess, ImportPath: "example.com/" + name + "/cmd/" + name, Module: "example.com/" + name,
			Versions: []catalog.Version{{Version: "v1.0.0", Sum: sum}}})
	}
	t.Setenv("GOPROXY", fileProxy(v.proxy, filepath.Join(e2e.modcache, "cache", "download")))
	t.Setenv("GOSUMDB", "off")
	t.Setenv("GONOSUMDB", "*") // the catalog's hash holds whatever these say
	bin := installedCopy(t)
	same := unchanged(t, bin)
	sc := installer(t, bin)
	sc.Vendor = &catalog.Config{Name: "example.com/abinary", Keys: []string{v.verifier}, Embedded: v.sign(cat), Policy: catalog.Policy{Allow: catalog.AllowCatalog}}
	p, err := sc.InstallProcess(t.Context(), "greetp")
	if err != nil {
		t.Fatalf("InstallProcess greetp: %v", err)
	}
	if p.Origin != "catalog" || p.Catalog != "greetp (sequence 1)" || p.Version != "v1.0.0" || p.Sum != v.sums["example.com/greetp@v1.0.0"] || p.ImportPath != "example.com/greetp/cmd/greetp" {
		t.Errorf("the install records %+v", p)
	}
	if got, err := exec.Command(p.Path).CombinedOutput(); err != nil || string(got) != "greetp v1.0.0\n" {
		t.Errorf("the process plugin printed %q (%v)", got, err)
	}
	var refused *catalog.RefusedError
	_, err = sc.InstallProcess(t.Context(), "badp")
	if !errors.As(err, &refused) || refused.Rule != "catalog hash" || !errors.Is(err, selfcompile.ErrNotAllowed) {
		t.Errorf("a process plugin whose files are not the catalog's: %v", err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p.Path), "badp")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused plugin's executable: %v", err)
	}
	if _, err := sc.InstallProcess(t.Context(), "metrics"); !errors.Is(err, selfcompile.ErrInvalidPlugin) || !strings.Contains(err.Error(), "install it with plugin add metrics") {
		t.Errorf("a compiled-in plugin's name given to --process: %v", err)
	}
	if _, err := sc.Plan(t.Context(), selfcompile.Change{Add: []string{"greetp"}}); !errors.Is(err, selfcompile.ErrInvalidPlugin) || !strings.Contains(err.Error(), "install it with plugin add --process greetp") {
		t.Errorf("a process plugin's name given to a compiled-in install: %v", err)
	}
	if problems, err := sc.Check(t.Context()); err != nil || len(problems) != 0 {
		t.Errorf("plugin check after the install: %+v, %v", problems, err)
	}
	// A folder the policy admits is built only with the versions of the
	// modules the catalog lists that it allows: metrics v1.2.0 is not.
	local := *sc
	local.Vendor = &catalog.Config{Name: "example.com/abinary", Keys: []string{v.verifier}, Embedded: v.sign(cat), Policy: catalog.Policy{Allow: catalog.AllowCatalogAndLocal}}
	for _, version := range []string{"v1.2.0", "v1.0.0"} {
		dir := filepath.Join(tempDir(t), "usesmetrics-"+version)
		writeFiles(t, dir, map[string]string{
			"go.mod":  "module example.com/usesmetrics\n\ngo 1.26\n\nrequire example.com/metrics " + version + "\n",
			"main.go": "package main\n\nimport _ \"example.com/metrics/plugin\"\n\nfunc main() {}\n",
		})
		p, err := local.InstallProcess(t.Context(), dir)
		if version == "v1.2.0" {
			if !errors.As(err, &refused) || refused.Rule != "catalog version" || !strings.Contains(err.Error(), "example.com/metrics@v1.2.0") {
				t.Errorf("a folder whose build needs metrics %s, which the catalog does not allow: %v", version, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("a folder whose build needs metrics %s: %v", version, err)
		}
		if got, err := exec.Command(p.Path).CombinedOutput(); err != nil || string(got) != "metrics "+version+"\n" {
			t.Errorf("the process plugin printed %q (%v)", got, err)
		}
	}
	same()
}
