package selfcompile

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/shazow/go-selfcompile/internal/gocmd"
)

// netVars are the go environment variables that say how to reach modules:
// the user's, from the environment or the go env file (go env -w), are
// honoured by installs that use the network. GOCACHEPROG lets a fleet
// share a build cache. Every other GO* and CGO_* setting of the user is
// ignored: what is built is what the binary records.
var netVars = []string{"GOPROXY", "GONOPROXY", "GOPRIVATE", "GONOSUMDB", "GONOSUMCHECK", "GOSUMDB", "GOINSECURE", "GOAUTH", "GOVCS", "GOCACHEPROG"}

// newGoTool prepares the go command of the restored toolchain: GOTOOLCHAIN,
// GOWORK, GOENV and GOFLAGS are the library's; the module cache holds the
// bundled modules, so the go command finds them before it asks the user's
// GOPROXY (which may be off); the build cache is shared by every host, the
// module cache kept per host; temporary files go into the workdir, which
// is removed whatever happens; and the settings recorded in the installed
// binary (GOOS, GOARCH, GOAMD64, CGO_*, ...) are reproduced.
func newGoTool(r *restored, bi *debug.BuildInfo, workdir string) gocmd.Go {
	var env []string
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "GO") && !strings.HasPrefix(k, "CGO_") {
			env = append(env, kv)
		}
	}
	env = append(env, userNetEnv()...)
	env = append(env,
		"GOROOT="+r.goroot,
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOENV=off",
		"GOFLAGS=-mod=mod -buildvcs=false",
		"GOCACHE="+r.gocache,
		"GOMODCACHE="+r.modcache,
		"GOPATH="+filepath.Join(r.hostDir, "path"),
		"GOTMPDIR="+filepath.Join(workdir, "tmp"),
	)
	env = append(env, settingsEnv(bi)...)
	return gocmd.Go{Bin: filepath.Join(r.goroot, "bin", "go"+exeSuffix()), Dir: r.module, Env: env}
}

// userNetEnv returns the user's network settings for the go command: the
// go env file's, overridden by the environment's. A process privileged
// by its file takes none: its environment is not its user's to trust.
func userNetEnv() []string {
	if privileged() {
		return nil
	}
	file := map[string]string{}
	if data, err := os.ReadFile(goEnvFile()); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
				file[k] = v
			}
		}
	}
	var env []string
	for _, k := range netVars {
		if v := cmp.Or(os.Getenv(k), file[k]); v != "" { // as the go command reads them: an empty variable is unset
			env = append(env, k+"="+v)
		}
	}
	return env
}

// goEnvFile is where go env -w writes: $GOENV, or go/env in the user's
// configuration directory.
func goEnvFile() string {
	if f := os.Getenv("GOENV"); f != "" && f != "off" {
		return f
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "go", "env")
}

// settingsEnv returns the environment that reproduces the target settings
// a binary was built with. A binary built with cgo is rebuilt with cgo only
// where a C compiler is found; otherwise cgo is turned off, which the go
// command would do by itself on such a machine.
func settingsEnv(bi *debug.BuildInfo) []string {
	var env []string
	for _, s := range bi.Settings {
		k, v := s.Key, s.Value
		switch {
		case k == "CGO_ENABLED":
			if v == "1" && cCompiler() == "" {
				v = "0"
			}
			env = append(env, k+"="+v)
		case strings.HasPrefix(k, "CGO_"), strings.HasPrefix(k, "GO") && strings.ToUpper(k) == k:
			env = append(env, k+"="+v) // GOOS, GOARCH, GOAMD64, GOEXPERIMENT, GOFIPS140, ...
		}
	}
	return env
}

// cCompiler returns the C compiler that cgo would run: $CC, or gcc or
// clang on PATH; "" when there is none.
func cCompiler() string {
	cc := os.Getenv("CC")
	if cc != "" {
		if p, err := exec.LookPath(strings.Fields(cc + " x")[0]); err == nil {
			return p
		}
		return ""
	}
	for _, name := range []string{"gcc", "clang"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

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
	done := in.stage("build")
	if in.pluginBundle {
		if err := in.writePluginBundle(); err != nil {
			return err
		}
	}
	if err := in.writeStub(); err != nil {
		return err
	}
	failpoint(in.ctx, "stub")
	in.c.logf("Compiling workdir: %s", in.workdir)
	stage, err := newStageDir(in.bin.path)
	if err != nil {
		return &TargetError{Path: in.bin.path, Err: err}
	}
	in.undo = append(in.undo, func() { os.RemoveAll(stage) })
	in.stageDir, in.staged = stage, filepath.Join(stage, filepath.Base(in.bin.path))
	args := append([]string{"build", "-v"}, buildFlags(in.bin.build, in.c.LDFlags)...)
	args = append(args, "-o", in.staged, "./"+in.bin.sharedM.MainDir)
	failpoint(in.ctx, "build")
	if _, err := in.g.Stream(in.ctx, in.buildProgress(), args...); err != nil {
		return attributeError(err, in.plugins)
	}
	os.WriteFile(filepath.Join(in.r.hostDir, builtFile), nil, 0o600) // for TrimCache
	done()
	failpoint(in.ctx, "built")
	return nil
}

// buildProgress returns the function that sees each line go build -v
// prints: the import path of each package it compiles. It reports them as
// events and, every ten seconds, to the log.
func (in *install) buildProgress() func(string) {
	start, last, n := time.Now(), time.Now(), 0
	return func(line string) {
		if strings.HasPrefix(line, "#") || strings.ContainsAny(line, " \t:") {
			return // compiler output, not a package name
		}
		n++
		failpoint(in.ctx, "compiled", n)
		in.c.emit(Event{Stage: "build", Package: line, Count: int64(n), Total: int64(in.packages), Elapsed: time.Since(start)})
		if time.Since(last) >= 10*time.Second {
			last = time.Now()
			in.c.logf("Compiled %d packages of the %d in the program (%v)", n, in.packages, time.Since(start).Round(time.Second))
		}
	}
}

// attributeError makes a failed go command a typed error. A failure that
// the output blames on packages of one plugin is that plugin's; a failure
// of the C compiler says so; go get and go list failures that name one
// plugin are a *PluginError for it.
func attributeError(err error, plugins []pluginSpec) error {
	var ge *gocmd.Error
	if !errors.As(err, &ge) {
		return err
	}
	be := &BuildError{Step: "go " + ge.Args[0], Output: ge.Output}
	for _, p := range plugins {
		mod := cmp.Or(p.modulePath, p.importPath)
		if mentions(ge.Output, p.importPath) || mentions(ge.Output, mod) {
			be.Plugins = append(be.Plugins, p.raw)
		}
	}
	failed := failedPackages(ge.Output)
	if cc := cCompiler(); strings.Contains(ge.Output, "cgo:") || (cc != "" && strings.Contains(ge.Output, cc)) || strings.Contains(ge.Output, os.Getenv("CC")+":") && os.Getenv("CC") != "" {
		be.Cause = fmt.Sprintf("the C compiler (%s) failed building %s; install a working C compiler or set CC to one", cmp.Or(os.Getenv("CC"), cc, "none found"), strings.Join(failed, ", "))
		be.Plugins = slices.DeleteFunc(be.Plugins, func(p string) bool { return !blamed(p, plugins, failed) })
	}
	if be.Step != "go build" && len(be.Plugins) == 1 {
		return &PluginError{Spec: be.Plugins[0], Reason: strings.TrimSpace(ge.Output)}
	}
	return be
}

// failedPackages returns the packages the go command's output reports
// errors for, from its "# import/path" lines.
func failedPackages(out string) []string {
	var pkgs []string
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "# "); ok && !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

// blamed reports whether one of the failed packages belongs to the plugin
// given as raw.
func blamed(raw string, plugins []pluginSpec, failed []string) bool {
	for _, p := range plugins {
		if p.raw != raw {
			continue
		}
		for _, f := range failed {
			if f == p.importPath || strings.HasPrefix(f, cmp.Or(p.modulePath, p.importPath)+"/") {
				return true
			}
		}
	}
	return false
}

// mentions reports whether the go command output names the package or
// module path as a whole word: "# path", "path:", "path@v", "path/...".
func mentions(out, path string) bool {
	for i := 0; ; {
		j := strings.Index(out[i:], path)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(path)
		before := j == 0 || strings.ContainsRune(" \t\n\"'(", rune(out[j-1]))
		after := end == len(out) || strings.ContainsRune(" \t\n\"':@/.)", rune(out[end]))
		if before && after {
			return true
		}
		i = end
	}
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
