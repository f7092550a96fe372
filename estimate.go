package selfcompile

// What a cold build costs, said before it starts: the packages it
// compiles, the time that takes on this machine, and the disk it uses. The
// cache keeps a small record of the builds that finished on this machine
// (builds.json): which program and toolchain, how many packages they
// compiled and how long that took.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// Estimate is what a cold build is expected to cost: one whose build cache
// lacks most of the program's packages, as on its first install on a
// machine. It is rough, and meant for a person deciding to wait.
type Estimate struct {
	// First reports that no earlier build of this program with this Go
	// toolchain is recorded in the cache: its first install here. When
	// false, the cache no longer holds its packages (the go command removes
	// build cache entries unused for five days; TrimCache and PurgeCache
	// remove them too).
	First bool `json:"first"`
	// Packages is how many packages the build compiles: those of the
	// program and its plugins that the build cache lacks.
	Packages int `json:"packages"`
	// Time is about how long the build takes. Measured reports that it
	// comes from this machine's earlier builds; otherwise it is a
	// conservative default per package.
	Time     time.Duration `json:"time"`
	Measured bool          `json:"measured"`
	// Disk is about how many bytes the install adds under CacheDir: what
	// it restored from the bundle or fetched (toolchain, modules, source)
	// and the build cache entries of the packages it compiles.
	Disk     int64  `json:"disk"`
	CacheDir string `json:"cache_dir"`
}

// String formats the estimate as one line for a person.
func (e *Estimate) String() string {
	var b strings.Builder
	if e.First {
		b.WriteString("First install: ")
	} else {
		b.WriteString("Cold build (the build cache no longer holds this program): ")
	}
	fmt.Fprintf(&b, "compiles about %d packages; about %s", e.Packages, roughly(e.Time))
	if e.Measured {
		b.WriteString(" on this machine (from its earlier builds)")
	} else {
		b.WriteString(" (a conservative default: no earlier build on this machine to go by)")
	}
	fmt.Fprintf(&b, "; needs about %d MB of disk in %s", (e.Disk+999_999)/1_000_000, e.CacheDir)
	return b.String()
}

// roughly formats a duration for an estimate: seconds, to five, under a
// minute; whole minutes above.
func roughly(d time.Duration) string {
	if d < 55*time.Second {
		return fmt.Sprintf("%d s", max(5, (d+2500*time.Millisecond)/(5*time.Second)*5))
	}
	return fmt.Sprintf("%d min", (d+30*time.Second)/time.Minute)
}

// The defaults of an estimate, calibrated on a first install of
// example-abinary (make example-abinary) with an empty cache, GOPROXY=off,
// on a 2-core x86-64 server shared with other builds (2026-12-07): it
// compiled the program's 256 packages in 43 s (0.17 s a package; a second
// run, from the e2e test, 255 in 56 s), restored 118.7 MB of bundle
// parts (toolchain 109.0, modules 9.2, source 0.5), which took 127 MB by du,
// and left 154 MB in the build cache (0.6 MB a package). Each default is
// above what was measured, so that an estimate errs on the side of
// patience: about three times the time a package, and a quarter more disk.
const (
	defaultPerPackage = 500 * time.Millisecond
	diskPerPackage    = 750_000 // bytes of build cache a compiled package leaves
	restoreOverhead   = 1.1     // what the restored files take on disk, per byte of bundle parts
)

// buildsFile is the record of the builds that finished on this machine,
// in the cache directory. PurgeCache removes it with the build cache it
// describes.
const buildsFile = "builds.json"

// keepBuilds is how many builds the record keeps, the newest.
const keepBuilds = 50

// goTrim is how long the go command keeps a build cache entry that no
// build uses (cmd/go/internal/cache's trimLimit).
const goTrim = 5 * 24 * time.Hour

// minSample is how many packages a build must have compiled to tell the
// time a package takes: the time of one that compiled a few is mostly
// linking.
const minSample = 50

// buildRun is one finished build, as the record keeps it.
type buildRun struct {
	Toolchain string    `json:"toolchain"` // the restored toolchain's directory name: Go version and digest
	Main      string    `json:"main"`      // the program's main package
	Packages  int       `json:"packages"`  // the packages in the program, 0 if not counted
	Compiled  int       `json:"compiled"`  // the packages the go command compiled
	Seconds   float64   `json:"seconds"`   // how long go build ran
	End       time.Time `json:"end"`
}

// readBuilds returns the builds the cache records, oldest first; none when
// the record is missing or unreadable.
func readBuilds(cache string) []buildRun {
	var runs []buildRun
	data, err := os.ReadFile(filepath.Join(cache, buildsFile))
	if err != nil || json.Unmarshal(data, &runs) != nil {
		return nil
	}
	return runs
}

// writeBuilds replaces the record with runs, keeping the newest. Installs
// that end at once may each drop the other's run: the record is a hint.
func writeBuilds(cache string, runs []buildRun) error {
	runs = runs[max(0, len(runs)-keepBuilds):]
	data, err := json.Marshal(runs)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(filepath.Join(cache, buildsFile), 0o600, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// forgetBuilds marks, in the record, the builds of other programs or
// toolchains than main's with toolchain as gone from the build cache, after
// a trim removed their entries; their times stay, for estimates.
func forgetBuilds(cache, toolchain, main string) {
	runs := readBuilds(cache)
	for i, r := range runs {
		if r.Toolchain != toolchain || r.Main != main {
			runs[i].End = time.Time{}
		}
	}
	if runs != nil {
		writeBuilds(cache, runs)
	}
}

// perPackage returns the time a package took to compile in this machine's
// last five builds that compiled many (minSample), and whether there were
// any; the default otherwise.
func perPackage(runs []buildRun) (time.Duration, bool) {
	var secs float64
	n, builds := 0, 0
	for i := len(runs) - 1; i >= 0 && builds < 5; i-- {
		if r := runs[i]; r.Compiled >= minSample {
			secs += r.Seconds
			n += r.Compiled
			builds++
		}
	}
	if n == 0 {
		return defaultPerPackage, false
	}
	return time.Duration(secs / float64(n) * float64(time.Second)), true
}

// recent reports whether the record holds a build of the program main
// with toolchain that ended in the last five days: the build cache still
// holds its packages, unless a trim removed them (forgetBuilds). seen
// reports whether it holds any.
func recent(runs []buildRun, toolchain, main string, now time.Time) (warm, seen bool) {
	for _, r := range runs {
		if r.Toolchain == toolchain && r.Main == main {
			seen = true
			warm = warm || now.Sub(r.End) < goTrim
		}
	}
	return warm, seen
}

// coldEstimate returns what the build is expected to cost when it is
// cold, or nil: when the record says that the program was built lately, when the
// build cache holds at least half of its packages, or when a shared build
// cache (GOCACHEPROG) may hold them.
func (res *resolution) coldEstimate(ctx context.Context) *Estimate {
	if slices.ContainsFunc(res.g.Env, func(kv string) bool { return strings.HasPrefix(kv, "GOCACHEPROG=") }) {
		return nil
	}
	runs := readBuilds(res.cache)
	warm, seen := recent(runs, filepath.Base(res.dirs.goroot), res.bin.Shared.Manifest.MainPackage, time.Now())
	if warm {
		return nil
	}
	stale, total, err := res.stalePackages(ctx)
	if err != nil || 2*stale <= total {
		return nil // the build reports an error
	}
	per, measured := perPackage(runs)
	return &Estimate{
		First:    !seen,
		Packages: stale,
		Time:     per * time.Duration(stale),
		Measured: measured,
		Disk:     int64(float64(res.written)*restoreOverhead) + int64(stale)*diskPerPackage,
		CacheDir: res.cache,
	}
}

// stalePackages returns how many packages of the program with its plugins
// the build cache lacks (go list's Stale, with the build's flags), of how
// many, and keeps the number for progress. It takes about half a second
// for a program of 250 packages: it hashes their files.
func (res *resolution) stalePackages(ctx context.Context) (stale, total int, err error) {
	args := append([]string{"list", "-e", "-mod=readonly", "-deps", "-f", "{{.Stale}}"}, buildFlags(res.bin.Build, res.c.LDFlags)...)
	args = append(args, "--", "./"+res.bin.Shared.Manifest.MainDir)
	for _, p := range res.plugins {
		args = append(args, p.importPath)
	}
	out, err := res.g.Run(ctx, args...)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Fields(string(out)) {
		total++
		if line == "true" {
			stale++
		}
	}
	res.meter.packages.Store(int64(total))
	return stale, total, nil
}

// recordBuild adds a finished build to the cache's record.
func (res *resolution) recordBuild(took time.Duration) {
	runs := append(readBuilds(res.cache), buildRun{
		Toolchain: filepath.Base(res.dirs.goroot),
		Main:      res.bin.Shared.Manifest.MainPackage,
		Packages:  int(res.meter.packages.Load()),
		Compiled:  int(res.meter.compiled.Load()),
		Seconds:   took.Seconds(),
		End:       time.Now(),
	})
	if err := writeBuilds(res.cache, runs); err != nil {
		res.c.logf("Could not record the build's time in %s (the next estimate goes without it): %v", res.cache, err)
	}
}

// progressLine is the build's progress every ten seconds: the packages
// compiled, of the estimate's when the build is cold, with the time it has
// taken and the time left at the rate so far.
func progressLine(n int, total int64, elapsed time.Duration, est *Estimate) string {
	el := elapsed.Round(time.Second)
	if (est == nil || est.Packages == 0) && total == 0 {
		return fmt.Sprintf("Compiled %d packages (%v)", n, el)
	}
	if est == nil || est.Packages == 0 {
		return fmt.Sprintf("Compiled %d packages of the %d in the program (%v)", n, total, el)
	}
	if n >= est.Packages {
		return fmt.Sprintf("Compiled %d packages (%v, nearly done)", n, el)
	}
	left := elapsed * time.Duration(est.Packages-n) / time.Duration(n)
	return fmt.Sprintf("Compiled %d of %d packages (%v, about %s left)", n, est.Packages, el, roughly(left))
}
