package selfcompile_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/shazow/go-selfcompile/internal/bundle"
)

// The benchmarks time whole programs, as a user runs them, in one run, and
// print a table: each time is also given as a ratio to a floor measured
// in the same run, a plain go build -trimpath of the same program with the
// same plugin. They work under build/bench (or $SELFCOMPILE_BENCH_DIR),
// not the system temporary directory: creating files there is much slower
// on some machines, and a user's cache is in their HOME.

// benchDir returns a new directory for a benchmark, removed at its end.
func benchDir(b *testing.B) string {
	b.Helper()
	base := os.Getenv("SELFCOMPILE_BENCH_DIR")
	if base == "" {
		wd, _ := os.Getwd()
		base = filepath.Join(wd, "build", "bench")
	}
	os.MkdirAll(base, 0o755)
	dir, err := os.MkdirTemp(base, "run-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { removeAll(dir) })
	return dir
}

// benchRepo returns a benchmark's directory and a copy of this repository
// in it.
func benchRepo(b *testing.B) (work, repo string) {
	b.Helper()
	work = benchDir(b)
	repo = filepath.Join(work, "repo")
	root, _ := os.Getwd()
	if err := copyRepo(root, repo); err != nil {
		b.Fatal(err)
	}
	return work, repo
}

// measured is one run of a program: its wall time, the time of each stage
// of an install as its progress events report them, the toolchain's
// restore, the packages compiled, and the program's own peak anonymous
// memory (RssAnon): not the compiler's, which is a child process, and not
// the clean file-backed pages of the bundles it reads.
type measured struct {
	total     time.Duration
	stages    map[string]time.Duration
	toolchain time.Duration
	compiled  int
	rssAnon   int64
}

var (
	stageDone     = regexp.MustCompile(`\] (\w+): done in (\S+)$`)
	toolchainDone = regexp.MustCompile(`Restored toolchain: .* in (\S+)$`)
	compiledLine  = regexp.MustCompile(`\] build: compiled `)
	rssAnonLine   = regexp.MustCompile(`RssAnon:\s+(\d+) kB`)
)

// measure runs bin with args in dir, with env added, and fails the
// benchmark unless it succeeds.
func measure(b *testing.B, env []string, bin string, args ...string) measured {
	b.Helper()
	exec.Command("sync").Run() // what earlier steps wrote is not written back during this one
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(append(os.Environ(), "GO_SELFCOMPILE_PROGRESS=1"), env...)
	stderr, _ := cmd.StderrPipe()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	peak := make(chan int64)
	go func() {
		var max int64
		for {
			data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
			if err != nil || strings.Contains(string(data), "State:\tZ") {
				peak <- max
				return
			}
			if m := rssAnonLine.FindSubmatch(data); m != nil {
				var kb int64
				fmt.Sscan(string(m[1]), &kb)
				max = maxInt(max, kb<<10)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	m := measured{stages: map[string]time.Duration{}}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		log.WriteString(line + "\n")
		if s := stageDone.FindStringSubmatch(line); s != nil {
			m.stages[s[1]], _ = time.ParseDuration(s[2])
		}
		if s := toolchainDone.FindStringSubmatch(line); s != nil {
			m.toolchain, _ = time.ParseDuration(s[1])
		}
		if compiledLine.MatchString(line) {
			m.compiled++
		}
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, log.String())
	}
	m.total = time.Since(start)
	m.rssAnon = <-peak
	return m
}

// fileSize returns the size of the file name, 0 if it has none.
func fileSize(name string) int64 {
	fi, err := os.Stat(name)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func maxInt(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// timed runs a command and returns how long it took.
func timed(b *testing.B, dir string, env []string, name string, args ...string) time.Duration {
	b.Helper()
	exec.Command("sync").Run()
	start := time.Now()
	if out, err := command(dir, env, name, args...); err != nil {
		b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return time.Since(start)
}

// table collects the rows of a benchmark's table.
type table [][3]string

func (t *table) add(what, value, ratio string) { *t = append(*t, [3]string{what, value, ratio}) }

func (t table) print() {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "| measure\t| value\t| ratio / goal\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|")
	for _, r := range t {
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t|\n", r[0], r[1], r[2])
	}
	tw.Flush()
}

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func ratio(d, floor time.Duration, name string) string {
	return fmt.Sprintf("%.2f of %s", d.Seconds()/floor.Seconds(), name)
}

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// dirBytes returns the bytes of the regular files under dir.
func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// bundleParts adds a row for each bundle in a bundle package directory,
// with its parts, and returns the bytes of the bundles.
func bundleParts(b *testing.B, t *table, pkgDir string) int64 {
	b.Helper()
	var total int64
	entries, _ := os.ReadDir(pkgDir)
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".bundle") {
			continue
		}
		f, err := os.Open(filepath.Join(pkgDir, e.Name()))
		if err != nil {
			b.Fatal(err)
		}
		fi, _ := f.Stat()
		m, err := bundle.ReadManifest(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		total += fi.Size()
		var parts []string
		for _, p := range m.Parts {
			parts = append(parts, fmt.Sprintf("%s %s raw in %d files", p.Name, mb(p.Size), p.Files))
		}
		t.add(e.Name(), mb(fi.Size()), strings.Join(parts, "; "))
	}
	return total
}

const netHostMain = `package main

//go:generate go tool go-selfcompile

import (
	"fmt"
	"net/http"
	"os"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/plugincmd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		plugincmd.Main(os.Args[2:], selfcompile.SelfCompile{})
	}
	liveLoads()
	fmt.Println(http.StatusText(http.StatusOK))
}
`

// liveLoadsFile is a file of a benchmark host's main package, built with
// -tags live: "HOST live-load SPEC..." loads each plugin live with package
// live, printing "loaded SPEC in DURATION", and exits. Without the tag,
// liveOffFile: the program is not linked with package plugin, which makes
// it a dynamically linked cgo program, and its floors what they would be.
const liveLoadsFile = `//go:build live

package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/shazow/go-selfcompile/live"
)

func liveLoads() {
	if len(os.Args) < 2 || os.Args[1] != "live-load" {
		return
	}
	var l live.Loader
	for _, spec := range os.Args[2:] {
		start := time.Now()
		if _, err := l.Load(context.Background(), spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("loaded %s in %v\n", spec, time.Since(start))
	}
	os.Exit(0)
}
`

const liveOffFile = `//go:build !live

package main

func liveLoads() {}
`

// writeLiveFiles writes liveLoadsFile and liveOffFile into a main package.
func writeLiveFiles(dir string) {
	os.WriteFile(filepath.Join(dir, "live.go"), []byte(liveLoadsFile), 0o644)
	os.WriteFile(filepath.Join(dir, "live_off.go"), []byte(liveOffFile), 0o644)
}

// liveRows builds the program of the main package pkg in dir with -tags
// live into work, installs two new local plugins into it (the second is
// its repeat install), loads two more live, one after the other in one
// process, and adds their times beside that repeat install and a restart
// (a start of the rebuilt program, the median of three runs with
// startArgs): the first load builds every dependency again for dynamic
// linking, the second finds them built. newPlugin writes a new plugin
// into a directory and returns it.
func liveRows(b *testing.B, t *table, env []string, dir, pkg, work string, newPlugin func(name string) string, startArgs ...string) {
	b.Helper()
	bin := filepath.Join(work, "live", filepath.Base(pkg))
	timed(b, dir, nil, "go", "build", "-trimpath", "-tags", "live", "-o", bin, pkg)
	var repeat measured
	for _, name := range []string{"liverep0", "liverep1"} {
		repeat = measure(b, env, bin, "plugin", "add", newPlugin(name))
	}
	cmd := exec.Command(bin, "live-load", newPlugin("live0"), newPlugin("live1"))
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	exec.Command("sync").Run()
	data, err := cmd.Output()
	if err != nil {
		b.Fatalf("live loads: %v\n%s", err, data)
	}
	var loads []time.Duration
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if i := strings.LastIndex(line, " in "); strings.HasPrefix(line, "loaded ") && i > 0 {
			d, _ := time.ParseDuration(line[i+len(" in "):])
			loads = append(loads, d)
		}
	}
	if len(loads) != 2 {
		b.Fatalf("live loads printed:\n%s", data)
	}
	var starts []time.Duration
	for range 3 {
		starts = append(starts, timed(b, filepath.Dir(bin), env, bin, startArgs...))
	}
	restart := medianDuration(starts...)
	both := repeat.total + restart
	t.add("built with -tags live (package plugin, cgo): repeat install", secs(repeat.total), "")
	t.add("  restart: a start of the rebuilt program (median of 3)", fmt.Sprintf("%.1f ms", restart.Seconds()*1000), "")
	t.add("  live load of a new plugin, first (dependencies built for dynamic linking)", secs(loads[0]), ratio(loads[0], both, "repeat install + restart"))
	t.add("  live load of another new plugin, warm", secs(loads[1]), ratio(loads[1], both, "repeat install + restart"))
}

// BenchmarkInstall measures, in one run, what installs cost on a program
// that imports net/http, against what the compiler must do anyway: the
// bundle's parts and generation times; the floors, a cold and a warm go
// build -trimpath of the same program with the same plugin; first installs
// on a fresh cache with and without the warm cache; a repeat install with
// where its time goes; the toolchain's restore; the installer's peak
// anonymous memory; and the disk that installs add.
func BenchmarkInstall(b *testing.B) {
	if testing.Short() {
		b.Skip("slow")
	}
	work, repo, host := netHost(b)
	var t table

	// Generation, at the default level, without and with the warm cache:
	// with an empty build cache, a vendor's first release, and after a
	// release build (go build -trimpath), whose entries the warm cache
	// takes.
	tool, err := command(host, nil, "go", "tool", "-n", "go-selfcompile") // builds the generator, outside the timing
	if err != nil {
		b.Fatalf("go tool -n: %v\n%s", err, tool)
	}
	gen := func(env []string, flags ...string) time.Duration {
		return timed(b, host, env, strings.TrimSpace(string(tool)), append([]string{"-q"}, flags...)...)
	}
	tPlain := gen(nil)
	plainBin := filepath.Join(work, "plain", "nethost")
	timed(b, repo, nil, "go", "build", "-trimpath", "-o", plainBin, "./example/nethost")
	bundlePkg := filepath.Join(host, "selfcompilebundle")
	plainBytes := bundleParts(b, &table{}, bundlePkg)
	plainPkg := filepath.Join(work, "plainbundle") // the floors embed it, as the installs' binaries do
	if out, err := exec.Command("cp", "-a", bundlePkg, plainPkg).CombinedOutput(); err != nil {
		b.Fatalf("cp -a: %v\n%s", err, out)
	}
	tWarmEmpty := gen([]string{"GOCACHE=" + filepath.Join(work, "emptycache")}, "--warm-cache")
	tWarm := gen(nil, "--warm-cache")
	warmBytes := bundleParts(b, &t, filepath.Join(host, "selfcompilebundle"))
	warmBin := filepath.Join(work, "warm", "nethost")
	timed(b, repo, nil, "go", "build", "-trimpath", "-o", warmBin, "./example/nethost")
	t.add("bundle, without --warm-cache", mb(plainBytes), "")
	t.add("bundle, with --warm-cache", mb(warmBytes), "")
	t.add("generation (level best)", secs(tPlain), "")
	t.add("generation with --warm-cache, empty build cache", secs(tWarmEmpty), "")
	t.add("generation with --warm-cache, after go build -trimpath", secs(tWarm), ratio(tWarm, tWarmEmpty, "empty"))

	// Floors: the program with the plugin imported, go build -trimpath with
	// an empty build cache, then with only main changed. They embed the
	// bundle without the warm cache, as the binaries whose installs they
	// are compared with do: a floor that links the warm bundle (twice the
	// bytes) takes longer, and made a repeat install look 1.07 of it where
	// it was about 1.2.
	os.RemoveAll(bundlePkg)
	if out, err := exec.Command("cp", "-a", plainPkg, bundlePkg).CombinedOutput(); err != nil {
		b.Fatalf("cp -a: %v\n%s", err, out)
	}
	floor := floorBuilder(b, host, aplugin, repo, []string{"GOCACHE=" + filepath.Join(work, "floorcache")}, filepath.Join(work, "floor"), "./example/nethost")
	cold, warm := coldWarm(floor, nil)
	warmNew := newPluginFloor(b, repo, func(i int) string {
		d := filepath.Join(work, fmt.Sprintf("floorplug%d", i))
		writePluginB(b, d, fmt.Sprintf("example.com/floorplug%d", i))
		return d
	}, func(mod string) time.Duration { return floor("import _ \"" + mod + "\"\n") })
	os.Remove(filepath.Join(host, floorFile))
	t.add("floor: cold go build -trimpath", secs(cold), "1.00 of cold")
	t.add("floor: warm go build -trimpath (main changed, median of 3)", secs(warm), "1.00 of warm")
	t.add("floor: warm go build -trimpath adding a new plugin (median of 3)", secs(warmNew), "1.00 of new")
	t.add("floor's binary, beside the installed binary", mb(fileSize(filepath.Join(work, "floor"))), mb(fileSize(plainBin)))

	homeA, homeB := filepath.Join(work, "homeA"), filepath.Join(work, "homeB")
	env := func(home string) []string {
		return []string{"HOME=" + home, "XDG_CACHE_HOME=" + filepath.Join(home, "cache"), "GOPROXY=off"}
	}
	first := measure(b, env(homeA), plainBin, "plugin", "add", aplugin)
	firstWarm := measure(b, env(homeB), warmBin, "plugin", "add", aplugin)
	t.add("first install, fresh cache, no warm cache", secs(first.total), ratio(first.total, cold, "cold")+" (goal <= 1.15)")
	t.add("first install, fresh cache, warm cache", secs(firstWarm.total), ratio(firstWarm.total, cold, "cold")+" (goal <= 0.25)")
	t.add("toolchain restore, cold", secs(first.toolchain), "goal < 1 s")

	// Repeat installs: each adds a new local plugin, so main and the
	// plugin compile.
	cacheBefore := dirBytes(filepath.Join(homeA, "cache"))
	var repeats []measured
	for i := range 3 {
		d := filepath.Join(work, fmt.Sprintf("rep%d", i))
		writePluginB(b, d, fmt.Sprintf("example.com/rep%d", i))
		repeats = append(repeats, measure(b, env(homeA), plainBin, "plugin", "add", d))
	}
	repeat := median(repeats)
	grew := (dirBytes(filepath.Join(homeA, "cache")) - cacheBefore) / int64(len(repeats))
	repeatRows(&t, repeats, warm, warmNew)
	t.add("  of which", "", stageLine(repeat))
	liveRows(b, &t, env(homeA), repo, "./example/nethost", work, func(name string) string {
		d := filepath.Join(work, name)
		writePluginB(b, d, "example.com/"+name)
		return d
	})
	t.add("cache growth per repeat install", mb(grew), "goal <= 2 MB")
	t.add("cache after the installs", mb(dirBytes(filepath.Join(homeA, "cache"))), "")
	t.add("installer peak RssAnon, first install", mb(first.rssAnon), "goal <= 64 MB")
	t.add("installer peak RssAnon, repeat install", mb(repeat.rssAnon), "goal <= 64 MB")
	b.ReportMetric(first.total.Seconds()/cold.Seconds(), "first/cold")
	b.ReportMetric(firstWarm.total.Seconds()/cold.Seconds(), "firstwarm/cold")
	b.ReportMetric(repeat.total.Seconds()/warm.Seconds(), "repeat/warm")
	b.ReportMetric(float64(first.rssAnon)/1e6, "MB-peak-RssAnon")
	t.print()
}

// floorFile is the file of a main package that a floor adds: it imports
// the plugin, and the code that changes main.
const floorFile = "zz_plugin.go"

// floorBuilder returns a floor: go build -trimpath, in dir with env, of
// the main package pkg at mainDir into out, with imp imported and extra
// code added to main (floorFile, which the caller removes).
func floorBuilder(b *testing.B, mainDir, imp, dir string, env []string, out, pkg string) func(extra string) time.Duration {
	return func(extra string) time.Duration {
		os.WriteFile(filepath.Join(mainDir, floorFile), []byte("package main\n\nimport _ \""+imp+"\"\n"+extra), 0o644)
		return timed(b, dir, env, "go", "build", "-trimpath", "-o", out, pkg)
	}
}

// coldWarm times floor with what its build cache holds (empty: cold),
// then with only main changed, the median of three (warm). Unless nil,
// between(0) runs after the cold floor, and between(i) after the i-th
// warm one: what is measured against the floors alternates with them, so
// that a drift of the machine's speed hits both alike.
func coldWarm(floor func(extra string) time.Duration, between func(i int)) (cold, warm time.Duration) {
	cold = floor("")
	var ws []time.Duration
	for i := range 4 {
		if between != nil {
			between(i)
		}
		if i < 3 {
			ws = append(ws, floor(fmt.Sprintf("\nvar changed = %d\n", i+1)))
		}
	}
	return cold, medianDuration(ws...)
}

// netHost returns a benchmark's directory, a copy of this repository in
// it, and the main package of the benchmark's net/http program, written
// into the copy.
func netHost(b *testing.B) (work, repo, host string) {
	b.Helper()
	work, repo = benchRepo(b)
	host = filepath.Join(repo, "example", "nethost")
	os.MkdirAll(host, 0o755)
	os.WriteFile(filepath.Join(host, "main.go"), []byte(netHostMain), 0o644)
	writeLiveFiles(host)
	return work, repo, host
}

// netPlain builds the benchmark's net/http program without
// go-selfcompile into work, and returns the binary.
func netPlain(b *testing.B, repo, work string) string {
	b.Helper()
	dir := filepath.Join(repo, "example", "netplain")
	os.MkdirAll(dir, 0o755)
	main := "package main\n\nimport (\n\t\"fmt\"\n\t\"net/http\"\n)\n\nfunc main() { fmt.Println(http.StatusText(http.StatusOK)) }\n"
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644)
	bin := filepath.Join(work, "netplain", "nethost")
	timed(b, repo, nil, "go", "build", "-trimpath", "-o", bin, "./example/netplain")
	return bin
}

// repeatRows adds the rows of the repeat installs: each, with its ratios
// to the warm floors, and the median.
func repeatRows(t *table, repeats []measured, warm, warmNew time.Duration) {
	for i, r := range repeats {
		t.add(fmt.Sprintf("repeat install %d of %d, warm caches", i+1, len(repeats)), secs(r.total), ratio(r.total, warm, "warm")+", "+ratio(r.total, warmNew, "new"))
	}
	m := median(repeats)
	t.add("repeat install, median", secs(m.total), ratio(m.total, warm, "warm")+" (goal <= 1.2), "+ratio(m.total, warmNew, "new"))
}

// newPluginFloor times, three times, a warm go build -trimpath of the
// program in the module at dir with one more plugin, a new local module each
// time, as an install that adds a plugin compiles it; dir's go.mod and
// go.sum are put back after. plugin writes the i-th plugin's module and
// returns its directory; build builds with the plugin's module imported.
func newPluginFloor(b *testing.B, dir string, plugin func(i int) string, build func(mod string) time.Duration) time.Duration {
	b.Helper()
	gomod, _ := os.ReadFile(filepath.Join(dir, "go.mod"))
	gosum, _ := os.ReadFile(filepath.Join(dir, "go.sum"))
	defer os.WriteFile(filepath.Join(dir, "go.mod"), gomod, 0o644)
	defer os.WriteFile(filepath.Join(dir, "go.sum"), gosum, 0o644)
	var ds []time.Duration
	for i := range 3 {
		p := plugin(i)
		data, _ := os.ReadFile(filepath.Join(p, "go.mod"))
		mod := strings.Fields(string(data))[1]
		if out, err := command(dir, nil, "go", "mod", "edit", "-require="+mod+"@v0.0.0", "-replace="+mod+"="+p); err != nil {
			b.Fatalf("go mod edit: %v\n%s", err, out)
		}
		ds = append(ds, build(mod))
	}
	return medianDuration(ds...)
}

// medianDuration returns the median of three or more durations.
func medianDuration(ds ...time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}

// median returns the run with the median total time.
func median(runs []measured) measured {
	sorted := append([]measured(nil), runs...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j].total < sorted[i].total {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	return sorted[len(sorted)/2]
}

func writePluginB(b *testing.B, dir, modPath string) {
	b.Helper()
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+modPath+"\n\ngo 1.26\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "p.go"), []byte("package "+filepath.Base(modPath)+"\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\""+modPath+"\") }\n"), 0o644)
}

// BenchmarkTargets measures generation for four targets in one run against
// four separate generations: time, and the bytes of the bundles written
// (the shared bundle, the host's source and modules, is written once).
// The toolchains of the other targets are downloaded before the timing.
func BenchmarkTargets(b *testing.B) {
	if testing.Short() {
		b.Skip("slow")
	}
	_, repo := benchRepo(b)
	host := filepath.Join(repo, "example", "abinary")
	targets := []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64"}
	gen := func(ts ...string) (time.Duration, int64) {
		d := timed(b, host, nil, "go", "tool", "go-selfcompile", "-q", "--targets", strings.Join(ts, ","))
		return d, bundleParts(b, &table{}, filepath.Join(host, "selfcompilebundle"))
	}
	gen(targets...) // downloads the toolchains and builds the generator
	var t table
	tOne, bytesOne := gen(targets...)
	var tSep time.Duration
	var bytesSep int64
	for _, target := range targets {
		d, n := gen(target)
		tSep += d
		bytesSep += n
	}
	t.add("4 targets, one generation", secs(tOne), "")
	t.add("4 targets, 4 generations", secs(tSep), fmt.Sprintf("%.2f of one", tSep.Seconds()/tOne.Seconds()))
	t.add("bundle bytes, one generation", mb(bytesOne), "")
	t.add("bundle bytes, 4 generations", mb(bytesSep), fmt.Sprintf("%.2f of one", float64(bytesSep)/float64(bytesOne)))
	b.ReportMetric(tSep.Seconds()/tOne.Seconds(), "separate/one")
	t.print()
}
