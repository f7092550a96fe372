package selfcompile

// The build stage: the stub and the plugins bundle written, and go build
// run with the flags the binary records, into a directory beside the
// executable.

import (
	"cmp"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/shazow/go-selfcompile/internal/cacheprog"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/identity"
	"github.com/shazow/go-selfcompile/internal/swap"
)

// buildFlags returns the go build flags that reproduce the flags a binary
// was built with. Go leaves -ldflags out of the build info of a -trimpath
// build (golang/go#63432), so ldflags, when set, replaces whatever the
// build info has.
func buildFlags(bi *debug.BuildInfo, ldflags string) []string {
	flags := []string{"-trimpath"}
	for _, s := range bi.Settings {
		switch k, v := s.Key, s.Value; k {
		case "-buildmode", "-compiler":
			// Build info records the defaults too, but passing them
			// changes the link action ID, and so the binary's build ID.
			if v != "exe" && v != "gc" {
				flags = append(flags, k+"="+v)
			}
		case "-gcflags", "-asmflags", "-tags":
			flags = append(flags, k+"="+v)
		case "-ldflags":
			ldflags = cmp.Or(ldflags, v)
		case "-race", "-msan", "-asan":
			if v == "true" {
				flags = append(flags, k)
			}
		}
	}
	if ldflags != "" {
		flags = append(flags, "-ldflags="+ldflags)
	}
	return flags
}

// built is what the build stage returns: the new binary, and what settle
// started for the swap.
type built struct {
	path    string         // the new binary
	synced  chan struct{}  // closed once its first sync is done
	checked chan exe.Spans // its checked bundles, if they are good; closed after
}

// buildMeter counts, for progress, the packages of the build and those
// that the go commands of a run compiled.
type buildMeter struct {
	packages     atomic.Int64 // packages in the build; 0 until counted
	compiled     atomic.Int64 // packages compiled so far, by the check's build and the build
	compileStart time.Time    // when the first of them started
}

// build takes the resolution, writes the stub and the plugins bundle into
// the restored source and builds the new binary, reporting the packages
// compiled as the go command names them. replacing says that the new
// binary is to replace the executable: it is built beside it, signed
// (SelfCompile.Sign) and settled; else it is built into the workdir. It
// returns the new binary.
func (res *resolution) build(ctx context.Context, replacing bool) (*built, error) {
	done := res.stageWith(Event{Stage: StageBuild, Estimate: res.cost()})
	if err := res.writeSource(ctx); err != nil {
		return nil, err
	}
	res.c.logAt("Compiling", res.workdir)
	dir, err := res.newBinDir(replacing)
	if err != nil {
		return nil, err
	}
	b := &built{path: filepath.Join(dir, filepath.Base(res.bin.Path))}
	args, g, err := res.buildArgs(ctx)
	if err != nil {
		return nil, err
	}
	args = append(args, "-o", b.path, "./"+res.bin.Shared.Manifest.MainDir)
	failpoint.Hit(ctx, "build")
	stopCount := res.countPackages(ctx)
	_, err = g.Stream(ctx, res.buildProgress(ctx, StageBuild), args...)
	stopCount()
	res.cacheNote()
	if err != nil {
		return nil, res.goError(err)
	}
	res.recordBuild(time.Since(res.meter.compileStart))
	if err := res.sign(ctx, b, replacing); err != nil {
		return nil, err
	}
	res.settle(b, replacing)
	done()
	failpoint.Hit(ctx, "built")
	return b, nil
}

// writeSource writes the plugins bundle, when the new binary embeds one,
// and the stub into the restored source.
func (res *resolution) writeSource(ctx context.Context) error {
	if res.pluginBundle {
		if err := res.writePluginBundle(ctx); err != nil {
			return diskError(err, res.workdir)
		}
	}
	if err := res.writeStub(); err != nil {
		return diskError(err, res.workdir)
	}
	failpoint.Hit(ctx, "stub")
	return nil
}

// sign runs the signing hook on a new binary that is to replace the
// executable.
func (r *run) sign(ctx context.Context, b *built, replacing bool) error {
	if r.c.Sign == nil || !replacing {
		return nil
	}
	r.c.logAt("Signing the new binary", b.path)
	if err := r.c.Sign(ctx, b.path); err != nil {
		return &signError{err}
	}
	return nil
}

// cost is what the build is expected to cost when it is cold, as the plan
// says; nil for none.
func (res *resolution) cost() *Estimate {
	if res.plan == nil {
		return nil
	}
	return res.plan.Estimate
}

// buildArgs returns the arguments of go build (but -o and the package)
// that rebuild the executable: with -v for progress, the settings it
// records, and its identity (the version and checkout that its build info
// records, package internal/identity), and the go command to run them
// with.
func (l *layout) buildArgs(ctx context.Context) ([]string, gocmd.Go, error) {
	g := l.g
	idArgs, idEnv, err := identity.Flags(ctx, g, identity.Of(l.bin.Build), filepath.Join(l.cache, toolsDir, filepath.Base(l.dirs.goroot)), l.workdir)
	if err != nil {
		return nil, g, diskError(err, l.cache)
	}
	g.Env = append(slices.Clone(g.Env), idEnv...)
	if l.meter.compileStart.IsZero() {
		l.meter.compileStart = time.Now()
	}
	args := append([]string{"build", "-v"}, buildFlags(l.bin.Build, l.c.LDFlags)...)
	return append(args, idArgs...), g, nil
}

// settle starts, in the background, what the swap will want of a new
// binary that is to replace the executable, once it is verified: its data
// synced to disk, so that the swap's own fsync is quick, and its bundles
// checked, so that the next install need not check them. Not on Windows,
// where an open handle could stop the probe from starting the binary.
func (r *run) settle(b *built, replacing bool) {
	b.synced, b.checked = make(chan struct{}), make(chan exe.Spans, 1)
	if !replacing || runtime.GOOS == "windows" {
		close(b.synced)
		close(b.checked)
		return
	}
	go func() {
		fsutil.SyncFile(b.path)
		close(b.synced)
	}()
	go func() {
		defer close(b.checked)
		if x, err := exe.Open(b.path); err == nil {
			b.checked <- x.Spans
			x.Close()
		}
	}()
	r.undo = append(r.undo, func() { // before the new binary's directory goes
		<-b.synced
		for range b.checked {
		}
	})
}

// cacheNote logs why the shared build cache failed, if it did: the build
// went on without it.
func (r *run) cacheNote() {
	data, err := os.ReadFile(filepath.Join(r.workdir, cacheprog.NoteFile))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(data), "\n") // go commands running at once may each note theirs
	r.c.logf("The shared build cache (GOCACHEPROG) %s; the build went on without it, compiling what the local cache lacks", first)
}

// newBinDir creates the private directory that a new binary is built
// into: for one that replaces the executable, beside it, so that the swap
// is a rename (end removes it); for one that replaces nothing (a trim's, a
// Go plugin's probe), in the workdir.
func (r *run) newBinDir(replacing bool) (string, error) {
	if !replacing {
		return os.MkdirTemp(r.workdir, "bin-")
	}
	dir, err := swap.NewDir(r.bin.Path)
	if err != nil {
		return "", &TargetError{Path: r.bin.Path, Err: err}
	}
	r.undo = append(r.undo, func() { os.RemoveAll(dir) })
	return dir, nil
}

// buildProgress returns the function that sees each line go build -v
// prints: the import path of each package it compiles. It reports them as
// events of stage and, every ten seconds, to the log (progressLine), whose
// count and time run on from the check's build to the build.
func (res *resolution) buildProgress(ctx context.Context, stage Stage) func(string) {
	p := &buildProgress{res: res, stage: stage, start: time.Now(), last: time.Now()}
	return func(line string) { p.line(ctx, line) }
}

// buildProgress is the progress of one go build.
type buildProgress struct {
	res         *resolution
	stage       Stage
	n           int       // packages this build compiled
	start, last time.Time // when it started; when the log last had a progress line
}

// line sees a line that go build -v printed; ctx is the run's, for its
// failpoints.
func (p *buildProgress) line(ctx context.Context, line string) {
	if strings.HasPrefix(line, "#") || strings.ContainsAny(line, " \t:") {
		return // compiler output, not a package name
	}
	res := p.res
	p.n++
	if p.stage == StageCheck {
		failpoint.Hit(ctx, "check-compiled", p.n)
	} else {
		failpoint.Hit(ctx, "compiled", p.n)
	}
	res.c.emit(Event{Stage: p.stage, Package: line, Count: int64(p.n), Total: res.meter.packages.Load(), Elapsed: time.Since(p.start)})
	all := int(res.meter.compiled.Add(1)) // the check's build's and the build's
	if time.Since(p.last) >= 10*time.Second {
		p.last = time.Now()
		res.c.logf("%s", progressLine(all, res.meter.packages.Load(), time.Since(res.meter.compileStart), res.cost()))
	}
}

// countDelay is how long a build runs before the packages of the program
// are counted beside it, for progress: shortly before the first progress
// line. A repeat install's build is over sooner (caddy's in about 7 s on
// two cores), and a count beside it competes with it for the cores: it
// took a tenth of example-abinary's build time.
const countDelay = 8 * time.Second

// countPackages counts, beside a build that lasts, the packages of the
// program with its plugins, for progress, when resolve did not list them
// all (listAll). The build calls stop when it ends: it ends a count still
// running, and returns once none runs.
func (res *resolution) countPackages(ctx context.Context) (stop func()) {
	if res.meter.packages.Load() > 0 {
		return func() {}
	}
	args := []string{"-mod=readonly", "-deps", "--", "./" + res.bin.Shared.Manifest.MainDir}
	for _, p := range res.plugins {
		args = append(args, p.importPath)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	timer := time.AfterFunc(countDelay, func() {
		defer close(done)
		if pkgs, err := gosrc.List(ctx, res.g, nil, args...); err == nil {
			res.meter.packages.Store(int64(len(pkgs)))
		}
	})
	return func() {
		if !timer.Stop() { // the count started
			cancel()
			<-done
		}
		cancel()
	}
}

// signError is a failed signing hook. It matches ErrSign.
type signError struct{ err error }

// Error describes what went wrong and what to do.
func (e *signError) Error() string {
	return "the signing hook failed on the new binary (" + e.err.Error() + "); the installed binary is unchanged"
}

// Is reports whether target is the sentinel the error matches.
func (e *signError) Is(target error) bool { return target == ErrSign }

// Unwrap returns the cause.
func (e *signError) Unwrap() error { return e.err }
