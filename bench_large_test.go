package selfcompile_test

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The large host: github.com/caddyserver/caddy/v2, a web server of about
// 600 modules whose plugins are Go packages that register caddy modules
// from init with caddy.RegisterModule, as xcaddy builds them in.
const (
	caddyModule  = "github.com/caddyserver/caddy/v2"
	caddyVersion = "v2.11.9"
	caddyMain    = "cmd/caddy"
)

// caddyExtension writes a caddy plugin, as xcaddy users write them, into
// dir: its module ID is http.handlers.<name>.
func caddyExtension(b *testing.B, dir, name string) {
	b.Helper()
	os.MkdirAll(dir, 0o755)
	files := map[string]string{
		"go.mod": "module example.com/caddy-" + name + "\n\ngo 1.26\n\nrequire " + caddyModule + " " + caddyVersion + "\n",
		"hello.go": "package " + name + "\n\nimport \"github.com/caddyserver/caddy/v2\"\n\nfunc init() { caddy.RegisterModule(Hello{}) }\n\n" +
			"// Hello is a caddy module that does nothing.\ntype Hello struct{}\n\n" +
			"// CaddyModule returns the module's information.\nfunc (Hello) CaddyModule() caddy.ModuleInfo {\n\treturn caddy.ModuleInfo{ID: \"http.handlers." + name + "\", New: func() caddy.Module { return new(Hello) }}\n}\n",
		"LICENSE":   "MIT\n",
		".env":      "NOT_CARRIED=1\n",
		"x_test.go": "package " + name + "\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

// caddyHost downloads caddy into work and wires go-selfcompile into it as
// a program would: the plugin command in main, the go:generate line, the
// library (this repository, by a replace) and its generator as a tool in
// go.mod. It returns the module's directory; the main package is
// caddyMain in it.
func caddyHost(b *testing.B, work string) string {
	b.Helper()
	var mod struct{ Dir string }
	out, err := command(work, []string{"GOFLAGS=-mod=mod"}, "go", "mod", "download", "-json", caddyModule+"@"+caddyVersion)
	if err != nil || json.Unmarshal(out, &mod) != nil {
		b.Fatalf("go mod download: %v\n%s", err, out)
	}
	host := filepath.Join(work, "caddy")
	if err := os.CopyFS(host, os.DirFS(mod.Dir)); err != nil {
		b.Fatal(err)
	}
	filepath.WalkDir(host, func(p string, d fs.DirEntry, err error) error { // the module cache's files are read-only
		if err == nil {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	main := filepath.Join(host, caddyMain, "main.go")
	src, _ := os.ReadFile(main)
	s := strings.Replace(string(src), "import (", "//go:generate go tool go-selfcompile\n\nimport (\n\t\"os\"\n\n\tselfcompile \"github.com/shazow/go-selfcompile\"\n\t\"github.com/shazow/go-selfcompile/plugincmd\"\n", 1)
	s = strings.Replace(s, "func main() {", "func main() {\n\tif len(os.Args) > 1 && os.Args[1] == \"plugin\" {\n\t\tplugincmd.Main(os.Args[2:], selfcompile.SelfCompile{})\n\t}\n\tliveLoads()", 1)
	if s == string(src) {
		b.Fatalf("%s is not the main.go this benchmark knows", main)
	}
	os.WriteFile(main, []byte(s), 0o644)
	writeLiveFiles(filepath.Join(host, caddyMain))
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

// caddyPlain installs caddy as its module is published, without
// go-selfcompile, into work, and returns the binary.
func caddyPlain(b *testing.B, work string) string {
	b.Helper()
	dir := filepath.Join(work, "plain-caddy")
	timed(b, work, []string{"GOBIN=" + dir, "GOFLAGS="}, "go", "install", "-trimpath", caddyModule+"/"+caddyMain+"@"+caddyVersion)
	return filepath.Join(dir, "caddy")
}

// hasCaddyModule fails the benchmark unless caddy list-modules, run from
// bin, lists the module http.handlers.<name>.
func hasCaddyModule(b *testing.B, bin, name string) {
	b.Helper()
	if out, err := exec.Command(bin, "list-modules").CombinedOutput(); err != nil || !strings.Contains(string(out), "http.handlers."+name+"\n") {
		b.Fatalf("caddy list-modules does not list the plugin http.handlers.%s: %v\n%s", name, err, out)
	}
}

// BenchmarkLargeHost (make bench-large) wraps caddy and installs caddy
// plugins from local folders. It prints, in one run: the
// bundle's parts and generation times; the cold and warm go build
// -trimpath floors; a first install on a fresh cache (offline) without and
// with the warm cache; repeat installs and where their time goes; the disk
// each install adds and what the cache holds; the installer's peak
// anonymous memory.
func BenchmarkLargeHost(b *testing.B) {
	if os.Getenv("SELFCOMPILE_BENCH_LARGE") == "" {
		b.Skip("make bench-large: it downloads caddy and takes many minutes")
	}
	work := benchDir(b)
	host := caddyHost(b, work)
	mainDir := filepath.Join(host, caddyMain)
	var t table
	gen := func(flags ...string) time.Duration {
		return timed(b, mainDir, nil, "go", append([]string{"tool", "go-selfcompile", "-q"}, flags...)...)
	}
	gen("--level", "fastest") // builds the generator, fills the module cache
	ext := filepath.Join(work, "caddy-hello")
	caddyExtension(b, ext, "hello")
	if os.Getenv("SELFCOMPILE_BENCH_LARGE") == "placements" {
		caddyPlacements(b, &t, work, host, ext, gen)
		t.print()
		return
	}
	tPlain := gen()
	plainBytes := bundleParts(b, &t, filepath.Join(mainDir, "selfcompilebundle"))
	plainBin := filepath.Join(work, "plain", "caddy")
	timed(b, host, nil, "go", "build", "-trimpath", "-o", plainBin, "./"+caddyMain)

	cold, warm, warmNew := caddyFloors(b, work, host, ext)

	env := func(home string) []string {
		return []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "GOPROXY=off"}
	}
	homeA := filepath.Join(work, "homeA")
	first := measure(b, env(homeA), plainBin, "plugin", "add", ext)
	hasCaddyModule(b, plainBin, "hello")
	cacheBefore := dirBytes(filepath.Join(homeA, "cache"))
	var repeats []measured
	for i := range 3 {
		name := fmt.Sprintf("hello%d", i)
		d := filepath.Join(work, "caddy-"+name)
		caddyExtension(b, d, name)
		repeats = append(repeats, measure(b, env(homeA), plainBin, "plugin", "add", d))
		hasCaddyModule(b, plainBin, name)
	}
	repeat := median(repeats)
	grew := (dirBytes(filepath.Join(homeA, "cache")) - cacheBefore) / int64(len(repeats))

	tWarm := gen("--warm-cache")
	warmBytes := bundleParts(b, &table{}, filepath.Join(mainDir, "selfcompilebundle"))
	warmBin := filepath.Join(work, "warm", "caddy")
	timed(b, host, nil, "go", "build", "-trimpath", "-o", warmBin, "./"+caddyMain)
	firstWarm := measure(b, env(filepath.Join(work, "homeB")), warmBin, "plugin", "add", ext)

	t.add("bundle, without --warm-cache", mb(plainBytes), "goal <= 45 MB")
	t.add("bundle, with --warm-cache", mb(warmBytes), fmt.Sprintf("+%s for the warm cache", mb(warmBytes-plainBytes)))
	t.add("generation (level best)", secs(tPlain), "")
	t.add("generation with --warm-cache, after go build -trimpath", secs(tWarm), "")
	t.add("floor: cold go build -trimpath", secs(cold), "1.00 of cold")
	t.add("floor: warm go build -trimpath (main changed, median of 3)", secs(warm), "1.00 of warm")
	t.add("floor: warm go build -trimpath adding a new plugin (median of 3)", secs(warmNew), "1.00 of new")
	t.add("first install, fresh cache, offline, no warm cache", secs(first.total), ratio(first.total, cold, "cold"))
	t.add("  of which restore (toolchain "+secs(first.toolchain)+")", secs(first.stages["restore"]), "")
	t.add("first install, fresh cache, offline, warm cache", secs(firstWarm.total), ratio(firstWarm.total, cold, "cold")+" (goal <= 0.25)")
	repeatRows(&t, repeats, warm, warmNew)
	for _, s := range []string{"restore", "resolve", "build", "verify", "replace"} {
		t.add("  of which "+s, secs(repeat.stages[s]), "")
	}
	t.add("  restore + resolve", secs(repeat.stages["restore"]+repeat.stages["resolve"]), "goal <= 1 s")
	liveRows(b, &t, env(homeA), host, "./"+caddyMain, work, func(name string) string {
		d := filepath.Join(work, "caddy-"+name)
		caddyExtension(b, d, name)
		return d
	}, "version")
	t.add("cache growth per repeat install", mb(grew), "goal <= 2 MB")
	t.add("cache after the installs", mb(dirBytes(filepath.Join(homeA, "cache"))), "")
	t.add("installer peak RssAnon, first install", mb(first.rssAnon), "")
	t.add("installer peak RssAnon, repeat install", mb(repeat.rssAnon), "")
	caddyPlacements(b, &t, work, host, ext, gen)
	b.ReportMetric(repeat.total.Seconds()/warm.Seconds(), "repeat/warm")
	b.ReportMetric(firstWarm.total.Seconds()/cold.Seconds(), "firstwarm/cold")
	t.print()
}

// caddyPlacements adds the rows of placementRows for caddy, with the
// plugin at ext first; gen runs the generator.
func caddyPlacements(b *testing.B, t *table, work, host, ext string, gen func(flags ...string) time.Duration) {
	b.Helper()
	mainDir := filepath.Join(host, caddyMain)
	placementRows(b, t, placementRun{
		work: work, mainDir: mainDir,
		build:    func(out string) { timed(b, host, nil, "go", "build", "-trimpath", "-o", out, "./"+caddyMain) },
		gen:      func(flags ...string) { gen(flags...) },
		plainBin: caddyPlain(b, work),
		plugin:   ext,
		newPlugin: func(i int) string {
			d := filepath.Join(work, fmt.Sprintf("caddy-placed%d", i))
			caddyExtension(b, d, fmt.Sprintf("placed%d", i))
			return d
		},
		floors: func(cache string, between func(i int)) (cold, warm time.Duration) {
			cold, warm, _ = caddyFloorsIn(b, work, host, ext, cache, false, between)
			return cold, warm
		},
	})
}

// caddyFloors times go build -trimpath of caddy with the plugin at ext
// imported: with an empty build cache (cold), with only main changed
// (warm, the median of three), and adding a new plugin (the median of
// three). The host's go.mod and go.sum are put back after.
func caddyFloors(b *testing.B, work, host, ext string) (cold, warm, warmNew time.Duration) {
	return caddyFloorsIn(b, work, host, ext, filepath.Join(work, "floorcache"), true, nil)
}

// caddyFloorsIn is caddyFloors with the build cache at floorCache,
// without the new plugin's floor unless withNew, and with between run
// among the floors as coldWarm runs it.
func caddyFloorsIn(b *testing.B, work, host, ext, floorCache string, withNew bool, between func(i int)) (cold, warm, warmNew time.Duration) {
	b.Helper()
	gomod, _ := os.ReadFile(filepath.Join(host, "go.mod"))
	gosum, _ := os.ReadFile(filepath.Join(host, "go.sum"))
	defer os.WriteFile(filepath.Join(host, "go.mod"), gomod, 0o644)
	defer os.WriteFile(filepath.Join(host, "go.sum"), gosum, 0o644)
	data, _ := os.ReadFile(filepath.Join(ext, "go.mod"))
	mod := strings.Fields(string(data))[1]
	command(host, nil, "go", "mod", "edit", "-require="+mod+"@v0.0.0", "-replace="+mod+"="+ext)
	defer os.Remove(filepath.Join(host, caddyMain, floorFile))
	floor := floorBuilder(b, filepath.Join(host, caddyMain), mod, host, []string{"GOCACHE=" + floorCache, "GOFLAGS=-mod=mod"}, filepath.Join(work, "floor"), "./"+caddyMain)
	cold, warm = coldWarm(floor, between)
	if !withNew {
		return cold, warm, 0
	}
	warmNew = newPluginFloor(b, host, func(i int) string {
		d := filepath.Join(work, fmt.Sprintf("caddy-floor%d", i))
		caddyExtension(b, d, fmt.Sprintf("floor%d", i))
		return d
	}, func(mod string) time.Duration { return floor("import _ \"" + mod + "\"\n") })
	return cold, warm, warmNew
}
