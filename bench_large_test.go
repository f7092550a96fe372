package selfcompile_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The large host: go.k6.io/k6, a load-testing program of about 180
// modules, 90 of which provide the 780 packages it compiles, whose
// extensions register JavaScript modules from init with modules.Register.
const (
	k6Module  = "go.k6.io/k6"
	k6Version = "v1.8.1"
)

// k6Extension is a k6 JavaScript extension, as xk6 users write them.
func k6Extension(b *testing.B, dir, name string) {
	b.Helper()
	os.MkdirAll(dir, 0o755)
	files := map[string]string{
		"go.mod":   "module example.com/xk6-" + name + "\n\ngo 1.26\n\nrequire " + k6Module + " " + k6Version + "\n",
		"ext.go":   "package " + name + "\n\nimport \"go.k6.io/k6/js/modules\"\n\ntype Ext struct{}\n\nfunc (Ext) Greet() string { return \"hello from " + name + "\" }\n\nfunc init() { modules.Register(\"k6/x/" + name + "\", new(Ext)) }\n",
		"LICENSE":  "MIT\n",
		".env":     "NOT_CARRIED=1\n",
		"ext.test": "not carried",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// k6Host downloads k6 and wires go-selfcompile into it as a program would:
// the plugin command in main, the go:generate line, the library (this
// repository, by a replace) and its generator as a tool in go.mod.
func k6Host(b *testing.B, work string) string {
	b.Helper()
	var mod struct{ Dir string }
	out, err := command(work, []string{"GOFLAGS=-mod=mod"}, "go", "mod", "download", "-json", k6Module+"@"+k6Version)
	if err != nil || json.Unmarshal(out, &mod) != nil {
		b.Fatalf("go mod download: %v\n%s", err, out)
	}
	host := filepath.Join(work, "k6")
	if err := os.CopyFS(host, os.DirFS(mod.Dir)); err != nil {
		b.Fatal(err)
	}
	main := filepath.Join(host, "main.go")
	src, _ := os.ReadFile(main)
	s := strings.Replace(string(src), "import (", "//go:generate go tool go-selfcompile\n\nimport (\n\t\"os\"\n\n\tselfcompile \"github.com/shazow/go-selfcompile\"\n\t\"github.com/shazow/go-selfcompile/plugincmd\"\n", 1)
	s = strings.Replace(s, "func main() {", "func main() {\n\tif len(os.Args) > 1 && os.Args[1] == \"plugin\" {\n\t\tplugincmd.Main(os.Args[2:], selfcompile.SelfCompile{})\n\t}", 1)
	os.WriteFile(main, []byte(s), 0o644)
	root, _ := os.Getwd()
	for _, args := range [][]string{
		{"mod", "edit", "-require=github.com/shazow/go-selfcompile@v0.0.0", "-replace=github.com/shazow/go-selfcompile=" + root, "-tool=github.com/shazow/go-selfcompile/cmd/go-selfcompile"},
		{"mod", "tidy"},
	} {
		if out, err := command(host, []string{"GOFLAGS=-mod=mod"}, "go", args...); err != nil {
			b.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return host
}

// BenchmarkLargeHost (make bench-large) wraps go.k6.io/k6 and installs k6
// JavaScript extensions from local folders. It prints, in one run: the
// bundle's parts and generation times; the cold and warm go build
// -trimpath floors; a first install on a fresh cache (offline) without and
// with the warm cache; repeat installs and where their time goes; the disk
// each install adds and what the cache holds; the installer's peak
// anonymous memory.
func BenchmarkLargeHost(b *testing.B) {
	if os.Getenv("SELFCOMPILE_BENCH_LARGE") == "" {
		b.Skip("make bench-large: it downloads go.k6.io/k6 and takes many minutes")
	}
	work := benchDir(b)
	host := k6Host(b, work)
	var t table
	gen := func(flags ...string) time.Duration {
		return timed(b, host, nil, "go", append([]string{"tool", "go-selfcompile", "-q"}, flags...)...)
	}
	gen("--level", "fastest") // builds the generator, fills the module cache
	tPlain := gen()
	plainBytes := bundleParts(b, &t, filepath.Join(host, "selfcompilebundle"))
	plainBin := filepath.Join(work, "plain", "k6")
	timed(b, host, nil, "go", "build", "-trimpath", "-o", plainBin, ".")

	// Floors: k6 with the extension, built by go build -trimpath.
	ext := filepath.Join(work, "xk6-hello")
	k6Extension(b, ext, "hello")
	gomod, _ := os.ReadFile(filepath.Join(host, "go.mod"))
	gosum, _ := os.ReadFile(filepath.Join(host, "go.sum"))
	command(host, nil, "go", "mod", "edit", "-require=example.com/xk6-hello@v0.0.0", "-replace=example.com/xk6-hello=../xk6-hello")
	zz := filepath.Join(host, "zz_plugin.go")
	floorCache := filepath.Join(work, "floorcache")
	floor := func(extra string) time.Duration {
		os.WriteFile(zz, []byte("package main\n\nimport _ \"example.com/xk6-hello\"\n"+extra), 0o644)
		return timed(b, host, []string{"GOCACHE=" + floorCache, "GOFLAGS=-mod=mod"}, "go", "build", "-trimpath", "-o", filepath.Join(work, "floor"), ".")
	}
	cold := floor("")
	warm := medianDuration(floor("\nvar changed = 1\n"), floor("\nvar changed = 2\n"), floor("\nvar changed = 3\n"))
	warmNew := newPluginFloor(b, host, func(i int) string {
		d := filepath.Join(work, fmt.Sprintf("xk6-floor%d", i))
		k6Extension(b, d, fmt.Sprintf("floor%d", i))
		return d
	}, func(mod string) time.Duration { return floor("import _ \"" + mod + "\"\n") })
	os.Remove(zz)
	os.WriteFile(filepath.Join(host, "go.mod"), gomod, 0o644)
	os.WriteFile(filepath.Join(host, "go.sum"), gosum, 0o644)

	env := func(home string) []string {
		return []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "GOPROXY=off", "K6_AUTO_EXTENSION_RESOLUTION=false"}
	}
	homeA := filepath.Join(work, "homeA")
	first := measure(b, env(homeA), plainBin, "plugin", "add", ext)
	if out, err := exec.Command(plainBin, "version", "--json").CombinedOutput(); err != nil || !strings.Contains(string(out), "k6/x/hello") {
		b.Fatalf("k6 version --json does not list the extension: %v\n%s", err, out)
	}
	cacheBefore := dirBytes(filepath.Join(homeA, "cache"))
	var repeats []measured
	for i := range 3 {
		name := fmt.Sprintf("hello%d", i)
		d := filepath.Join(work, "xk6-"+name)
		k6Extension(b, d, name)
		repeats = append(repeats, measure(b, env(homeA), plainBin, "plugin", "add", d))
	}
	repeat := median(repeats)
	grew := (dirBytes(filepath.Join(homeA, "cache")) - cacheBefore) / int64(len(repeats))

	tWarm := gen("--warm-cache")
	warmBytes := bundleParts(b, &table{}, filepath.Join(host, "selfcompilebundle"))
	warmBin := filepath.Join(work, "warm", "k6")
	timed(b, host, nil, "go", "build", "-trimpath", "-o", warmBin, ".")
	firstWarm := measure(b, env(filepath.Join(work, "homeB")), warmBin, "plugin", "add", ext)

	t.add("bundle, without --warm-cache", mb(plainBytes), "goal <= 45 MB")
	t.add("bundle, with --warm-cache", mb(warmBytes), fmt.Sprintf("+%s for the warm cache", mb(warmBytes-plainBytes)))
	t.add("generation (level best)", secs(tPlain), "")
	t.add("generation with --warm-cache", secs(tWarm), "")
	t.add("floor: cold go build -trimpath", secs(cold), "1.00 of cold")
	t.add("floor: warm go build -trimpath (main changed, median of 3)", secs(warm), "1.00 of warm")
	t.add("floor: warm go build -trimpath adding a new extension (median of 3)", secs(warmNew), "1.00 of new")
	t.add("first install, fresh cache, offline, no warm cache", secs(first.total), ratio(first.total, cold, "cold"))
	t.add("  of which restore (toolchain "+secs(first.toolchain)+")", secs(first.stages["restore"]), "")
	t.add("first install, fresh cache, offline, warm cache", secs(firstWarm.total), ratio(firstWarm.total, cold, "cold")+" (goal <= 0.25)")
	repeatRows(&t, repeats, warm, warmNew)
	for _, s := range []string{"restore", "resolve", "build", "verify", "replace"} {
		t.add("  of which "+s, secs(repeat.stages[s]), "")
	}
	t.add("  restore + resolve", secs(repeat.stages["restore"]+repeat.stages["resolve"]), "goal <= 1 s")
	t.add("cache growth per repeat install", mb(grew), "goal <= 2 MB")
	t.add("cache after the installs", mb(dirBytes(filepath.Join(homeA, "cache"))), "")
	t.add("installer peak RssAnon, first install", mb(first.rssAnon), "")
	t.add("installer peak RssAnon, repeat install", mb(repeat.rssAnon), "")
	b.ReportMetric(repeat.total.Seconds()/warm.Seconds(), "repeat/warm")
	b.ReportMetric(firstWarm.total.Seconds()/cold.Seconds(), "firstwarm/cold")
	t.print()
}
