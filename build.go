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

// build writes the stub and the plugins bundle into the restored source
// and builds the new binary into a private directory beside the
// executable, reporting the packages compiled as the go command names
// them.
func (in *install) build() error {
	done := in.stage(StageBuild)
	if in.pluginBundle {
		if err := in.writePluginBundle(); err != nil {
			return in.diskError(err, in.workdir)
		}
	}
	if err := in.writeStub(); err != nil {
		return in.diskError(err, in.workdir)
	}
	failpoint.Hit(in.ctx, "stub")
	in.c.logAt("Compiling", in.workdir)
	dir, err := in.newBinDir()
	if err != nil {
		return err
	}
	in.newBin = filepath.Join(dir, filepath.Base(in.bin.Path))
	args, g, err := in.buildArgs()
	if err != nil {
		return err
	}
	args = append(args, "-o", in.newBin, "./"+in.bin.Shared.Manifest.MainDir)
	failpoint.Hit(in.ctx, "build")
	stopCount := in.countPackages()
	_, err = g.Stream(in.ctx, in.buildProgress(StageBuild), args...)
	stopCount()
	in.cacheNote()
	if err != nil {
		return in.goError(err)
	}
	in.recordBuild(time.Since(in.compileStart))
	if in.c.Sign != nil && in.mode == modeApply {
		in.c.logAt("Signing the new binary", in.newBin)
		if err := in.c.Sign(in.ctx, in.newBin); err != nil {
			return &signError{err}
		}
	}
	in.settle()
	done()
	failpoint.Hit(in.ctx, "built")
	return nil
}

// buildArgs returns the arguments of go build (but -o and the package)
// that rebuild the executable: with -v for progress, the settings it
// records, and its identity (the version and checkout that its build info
// records, package internal/identity), and the go command to run them
// with.
func (in *install) buildArgs() ([]string, gocmd.Go, error) {
	g := in.g
	idArgs, idEnv, err := identity.Flags(in.ctx, g, identity.Of(in.bin.Build), filepath.Join(in.cache, toolsDir, filepath.Base(in.r.goroot)), in.workdir)
	if err != nil {
		return nil, g, in.diskError(err, in.cache)
	}
	g.Env = append(slices.Clone(g.Env), idEnv...)
	if in.compileStart.IsZero() {
		in.compileStart = time.Now()
	}
	args := append([]string{"build", "-v"}, buildFlags(in.bin.Build, in.c.LDFlags)...)
	return append(args, idArgs...), g, nil
}

// settle starts, in the background, what the swap will want of the new
// binary once it is verified: its data synced to disk, so that the swap's
// own fsync is quick, and its bundles checked, so that the next install
// need not check them. Not on Windows, where an open handle could stop the
// probe from starting the binary.
func (in *install) settle() {
	in.synced, in.checked = make(chan struct{}), make(chan exe.Spans, 1)
	if in.mode != modeApply || runtime.GOOS == "windows" {
		close(in.synced)
		close(in.checked)
		return
	}
	go func() {
		fsutil.SyncFile(in.newBin)
		close(in.synced)
	}()
	go func() {
		defer close(in.checked)
		if x, err := exe.Open(in.newBin); err == nil {
			in.checked <- x.Spans
			x.Close()
		}
	}()
	in.undo = append(in.undo, func() { // before the new binary's directory goes
		<-in.synced
		for range in.checked {
		}
	})
}

// cacheNote logs why the shared build cache failed, if it did: the build
// went on without it.
func (in *install) cacheNote() {
	data, err := os.ReadFile(filepath.Join(in.workdir, cacheprog.NoteFile))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(data), "\n") // go commands running at once may each note theirs
	in.c.logf("The shared build cache (GOCACHEPROG) %s; the build went on without it, compiling what the local cache lacks", first)
}

// newBinDir creates the private directory that the new binary is built
// into: beside the executable, so that the swap is a rename, or for what
// swaps nothing (a trim, a Go plugin's probe), in the workdir.
func (in *install) newBinDir() (string, error) {
	if in.mode != modeApply {
		return os.MkdirTemp(in.workdir, "bin-")
	}
	dir, err := swap.NewDir(in.bin.Path)
	if err != nil {
		return "", &TargetError{Path: in.bin.Path, Err: err}
	}
	in.undo = append(in.undo, func() { os.RemoveAll(dir) })
	return dir, nil
}

// buildProgress returns the function that sees each line go build -v
// prints: the import path of each package it compiles. It reports them as
// events of stage and, every ten seconds, to the log (progressLine), whose
// count and time run on from the check's build to the build.
func (in *install) buildProgress(stage Stage) func(string) {
	p := &buildProgress{in: in, stage: stage, start: time.Now(), last: time.Now()}
	return p.line
}

// buildProgress is the progress of one go build.
type buildProgress struct {
	in          *install
	stage       Stage
	n           int       // packages this build compiled
	start, last time.Time // when it started; when the log last had a progress line
}

// line sees a line that go build -v printed.
func (p *buildProgress) line(line string) {
	if strings.HasPrefix(line, "#") || strings.ContainsAny(line, " \t:") {
		return // compiler output, not a package name
	}
	in := p.in
	p.n++
	if p.stage == StageCheck {
		failpoint.Hit(in.ctx, "check-compiled", p.n)
	} else {
		failpoint.Hit(in.ctx, "compiled", p.n)
	}
	in.c.emit(Event{Stage: p.stage, Package: line, Count: int64(p.n), Total: in.packages.Load(), Elapsed: time.Since(p.start)})
	all := int(in.compiled.Add(1)) // the check's build's and the build's
	if time.Since(p.last) >= 10*time.Second {
		p.last = time.Now()
		in.c.logf("%s", progressLine(all, in.packages.Load(), time.Since(in.compileStart), in.cost))
	}
}

// countDelay is how long a build runs before the packages of the program
// are counted beside it, for progress: a repeat install's build is over
// sooner, and a count beside it took a tenth of its time on two cores.
const countDelay = 2 * time.Second

// countPackages counts, beside a build that lasts, the packages of the
// program with its plugins, for progress, when resolve did not list them
// all (listAll). The build calls stop when it ends: it ends a count still
// running, and returns once none runs.
func (in *install) countPackages() (stop func()) {
	if in.packages.Load() > 0 {
		return func() {}
	}
	args := []string{"-mod=readonly", "-deps", "--", "./" + in.bin.Shared.Manifest.MainDir}
	for _, p := range in.plugins {
		args = append(args, p.importPath)
	}
	ctx, cancel := context.WithCancel(in.ctx)
	done := make(chan struct{})
	timer := time.AfterFunc(countDelay, func() {
		defer close(done)
		if pkgs, err := gosrc.List(ctx, in.g, nil, args...); err == nil {
			in.packages.Store(int64(len(pkgs)))
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

func (e *signError) Error() string {
	return "selfcompile: the signing hook failed on the new binary (" + unprefixed(e.err) + "); the installed binary is unchanged"
}

func (e *signError) Is(target error) bool { return target == ErrSign }

func (e *signError) Unwrap() error { return e.err }
