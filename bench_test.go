package selfcompile_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// The benchmark host: example-abinary's flow in a program that imports
// net/http, so that a cold build has the standard library's bulk to
// compile.
const netHostMain = `package main

import (
	"fmt"
	"net/http"
	"os"

	selfcompile "github.com/shazow/go-selfcompile"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "--plugin" {
		c := selfcompile.SelfCompile{AutoCleanup: true}
		c.Plugin(os.Args[2])
		if err := c.Compile(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	fmt.Println(http.StatusText(http.StatusOK))
}
`

// BenchmarkInstall measures, in one run, what an install costs against
// what the compiler must do anyway, and prints one table (make bench):
// bundle sizes and generation time; the floors, a cold and a warm
// go build -trimpath of the same program with the same plugin; first
// installs on a fresh HOME with and without the pre-warmed build cache; a
// repeat install; toolchain restores; and the installer's peak memory.
func BenchmarkInstall(b *testing.B) {
	if testing.Short() {
		b.Skip("slow")
	}
	// Under build/bench (or $SELFCOMPILE_BENCH_DIR), not the system
	// temporary directory, whose file creation on these machines is much
	// slower than elsewhere on the same disk (BENCHMARKS.md); a user's
	// cache is in HOME.
	base := os.Getenv("SELFCOMPILE_BENCH_DIR")
	if base == "" {
		wd, _ := os.Getwd()
		base = filepath.Join(wd, "build", "bench")
	}
	os.MkdirAll(base, 0o755)
	work, err := os.MkdirTemp(base, "install-")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { makeWritable(work); os.RemoveAll(work) }()
	tmp := filepath.Join(work, "tmp")
	os.MkdirAll(tmp, 0o755)
	repo := filepath.Join(work, "repo")
	root, _ := os.Getwd()
	if err := copyRepo(root, repo); err != nil {
		b.Fatal(err)
	}
	hostDir := filepath.Join(repo, "example", "nethost")
	os.MkdirAll(hostDir, 0o755)
	os.WriteFile(filepath.Join(hostDir, "main.go"), []byte(netHostMain), 0o644)
	var rows []row

	// Generation, without and with the warm cache, at the default level.
	gen := func(out string, warm bool) (*selfcompile.Manifest, time.Duration) {
		start := time.Now()
		m, err := selfcompile.Generate(context.Background(), selfcompile.GenerateOptions{Dir: hostDir, Out: out, WarmCache: warm})
		if err != nil {
			b.Fatal(err)
		}
		return m, time.Since(start)
	}
	plain := filepath.Join(work, "plain.bundle")
	mPlain, tPlain := gen(plain, false)
	warmB := filepath.Join(hostDir, selfcompile.BundleFile)
	mWarm, tWarm := gen(warmB, true)
	for _, p := range mWarm.Parts {
		rows = append(rows, row{"bundle part: " + p.Name, fmt.Sprintf("%.1f MB (%.1f MB raw, %d files)", mb(p.Compressed), mb(p.Size), p.Files), ""})
	}
	rows = append(rows,
		row{"bundle, without warm cache", fmt.Sprintf("%.1f MB", mb(total(mPlain))), ""},
		row{"generation (level best)", secs(tPlain), ""},
		row{"generation with --warm-cache", secs(tWarm), ""},
	)

	// The two host binaries: with the warm cache, and without it.
	build := func(out string) {
		if out2, err := command(repo, nil, "go", "build", "-trimpath", "-o", out, "./example/nethost"); err != nil {
			b.Fatalf("%v\n%s", err, out2)
		}
	}
	warmBin := filepath.Join(work, "warm", "nethost")
	build(warmBin)
	copyFileB(b, plain, warmB)
	plainBin := filepath.Join(work, "plain", "nethost")
	build(plainBin)

	// Floors: the same program with the same plugin, built by go build
	// -trimpath with an empty cache, then again with only main changed.
	floorCache := filepath.Join(work, "floorcache")
	os.WriteFile(filepath.Join(hostDir, "zz_plugin.go"), []byte("package main\n\nimport _ \"github.com/shazow/go-selfcompile/example/aplugin\"\n"), 0o644)
	floor := func() time.Duration {
		start := time.Now()
		if out, err := command(repo, []string{"GOCACHE=" + floorCache, "GOFLAGS=-buildvcs=false", "TMPDIR=" + tmp}, "go", "build", "-trimpath", "-o", filepath.Join(work, "floor"), "./example/nethost"); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		return time.Since(start)
	}
	cold := floor()
	os.WriteFile(filepath.Join(hostDir, "zz_plugin.go"), []byte("package main\n\nimport _ \"github.com/shazow/go-selfcompile/example/aplugin\"\n\nvar changed = 1\n"), 0o644)
	warm := floor()
	os.Remove(filepath.Join(hostDir, "zz_plugin.go"))
	rows = append(rows,
		row{"floor: cold go build -trimpath", secs(cold), "1.00 of cold"},
		row{"floor: warm go build -trimpath (main changed)", secs(warm), "1.00 of warm"},
	)

	// Installs, each on its own copy, with a fresh HOME for first ones.
	install := func(bin, home string) installRun {
		cmd := exec.Command(bin, "--plugin", aplugin)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, "cache"), "TMPDIR="+tmp, "GOPROXY=off", "GO_SELFCOMPILE_PROGRESS=1")
		stderr, _ := cmd.StderrPipe()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		var r installRun
		// The installer's own peak resident set, as the kernel keeps it
		// (VmHWM): the rusage of a finished process would report the go
		// compiler it ran, which is not what is measured here.
		peak := make(chan int64)
		go func() {
			var hwm int64
			for {
				data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
				if err != nil || strings.Contains(string(data), "State:\tZ") {
					peak <- hwm
					return
				}
				if m := vmHWM.FindSubmatch(data); m != nil {
					fmt.Sscan(string(m[1]), &hwm)
					hwm <<= 10
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		sc := bufio.NewScanner(stderr)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := toolchainDone.FindStringSubmatch(sc.Text()); m != nil {
				r.toolchain, _ = time.ParseDuration(m[1])
			}
			if m := restoreDone.FindStringSubmatch(sc.Text()); m != nil {
				r.restore, _ = time.ParseDuration(m[1])
			}
		}
		if err := cmd.Wait(); err != nil {
			b.Fatalf("install: %v\n%s", err, log.String())
		}
		r.total = time.Since(start)
		r.maxRSS = <-peak
		return r
	}
	homeA, homeB := filepath.Join(work, "homeA"), filepath.Join(work, "homeB")
	first := install(plainBin, homeA)
	firstWarm := install(warmBin, homeB)
	repeat := install(plainBin, homeA) // the binary now has aplugin; caches are warm
	rows = append(rows,
		row{"first install, fresh HOME, no warm cache", secs(first.total), ratio(first.total, cold, "cold") + " (goal <= 1.15)"},
		row{"first install, fresh HOME, warm cache", secs(firstWarm.total), ratio(firstWarm.total, cold, "cold") + " (goal <= 0.20)"},
		row{"repeat install, warm caches", secs(repeat.total), ratio(repeat.total, warm, "warm") + " (goal <= 1.5)"},
		row{"toolchain restore, cold", secs(first.toolchain), "goal < 1 s"},
		row{"restore stage, cold (all parts)", secs(first.restore), ""},
		row{"restore stage, toolchain cached (checked, source restored)", secs(repeat.restore), "goal < 0.1 s"},
		row{"installer peak RSS, first install", fmt.Sprintf("%.1f MB", mb(first.maxRSS)), "goal <= 64 MB"},
		row{"installer peak RSS, repeat install", fmt.Sprintf("%.1f MB", mb(repeat.maxRSS)), "goal <= 64 MB"},
	)
	b.ReportMetric(first.total.Seconds()/cold.Seconds(), "first/cold")
	b.ReportMetric(firstWarm.total.Seconds()/cold.Seconds(), "firstwarm/cold")
	b.ReportMetric(repeat.total.Seconds()/warm.Seconds(), "repeat/warm")
	b.ReportMetric(mb(repeat.maxRSS), "MB-peak-RSS")

	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "| measure\t| value\t| ratio to floor / goal\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|")
	for _, r := range rows {
		fmt.Fprintf(tw, "| %s\t| %s\t| %s\t|\n", r.what, r.value, r.ratio)
	}
	tw.Flush()
}

var (
	vmHWM         = regexp.MustCompile(`VmHWM:\s+(\d+) kB`)
	toolchainDone = regexp.MustCompile(`Restored toolchain: .* in (\S+)$`)
	restoreDone   = regexp.MustCompile(`\] restore: done in (\S+)`)
)

type row struct{ what, value, ratio string }

type installRun struct {
	total, toolchain, restore time.Duration
	maxRSS                    int64
}

func total(m *selfcompile.Manifest) int64 {
	var n int64
	for _, p := range m.Parts {
		n += p.Compressed
	}
	return n
}

func mb(n int64) float64 { return float64(n) / 1e6 }

func secs(d time.Duration) string { return fmt.Sprintf("%.2f s", d.Seconds()) }

func ratio(d, floor time.Duration, name string) string {
	return fmt.Sprintf("%.2f of %s", d.Seconds()/floor.Seconds(), name)
}

func copyFileB(b *testing.B, src, dst string) {
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		b.Fatal(err)
	}
}
