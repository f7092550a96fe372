// Package selfcompile lets a Go program install plugins by recompiling
// itself with a Go toolchain it carries, then replacing its own executable.
//
// A plugin is an ordinary Go package that registers itself in init. The
// host program runs the go-selfcompile generator from a go:generate line in
// its main package; the generator writes selfcompile.bundle (the Go
// toolchain, the host's source and its dependency modules, compressed) and
// selfcompile_bundle.go, which embeds it. At run time, SelfCompile restores
// the bundle, writes a stub that imports the plugins, builds the program,
// checks that the new binary starts with every plugin registered, and swaps
// it in for the running executable. The user needs no Go installation, and
// no network for plugins from a local directory.
package selfcompile

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// SelfCompile rebuilds the running program with plugins and replaces its
// executable. The zero value is ready to use in a program whose main
// package was prepared with go-selfcompile.
type SelfCompile struct {
	// Install is the import path of the main package to build, optionally
	// with "@version". It defaults to the main package recorded in the
	// bundle. A version is needed only when the bundle was generated with
	// --skip-source and the binary carries no module version.
	Install string

	// Bundle is the bundle to build from. It defaults to the bundle that
	// the generated selfcompile_bundle.go registered.
	Bundle string

	// Target is the executable to replace. It defaults to the running
	// executable, as resolved (through symlinks) when the program started.
	Target string

	// Root is the directory in which the workdir is created; it defaults
	// to os.TempDir(). Prefix starts the workdir's name; it defaults to
	// "go-selfcompile".
	Root, Prefix string

	// AutoCleanup removes the workdir when Compile returns. Without it the
	// caller calls Cleanup.
	AutoCleanup bool

	// CacheDir keeps the restored toolchain and the build and module
	// caches between installs. It defaults to go-selfcompile under
	// os.UserCacheDir().
	CacheDir string

	// LDFlags are the -ldflags to build with. Go does not record -ldflags
	// in a -trimpath binary, so a host that sets values with -X passes
	// them here, for example "-X main.version=" + version.
	LDFlags string

	// NoWait makes Compile fail with ErrLocked instead of waiting when
	// another install of the same executable is running.
	NoWait bool

	// DryRun makes Apply compute and return the plan without building or
	// touching the executable.
	DryRun bool

	// KeepHostDeps makes Apply refuse, before building, a change that
	// would move the version of any of the host's own dependencies.
	KeepHostDeps bool

	// Backups is how many previous binaries are kept beside the
	// executable for Rollback; 0 means 1, a negative number none.
	Backups int

	// ProbeTimeout bounds the verification run of the new binary; it
	// defaults to DefaultProbeTimeout.
	ProbeTimeout time.Duration

	// Logger receives the messages of the 2015 transcript (Initializing
	// workdir, Compiling workdir, Replacing binary, Cleaning up) and
	// warnings. It defaults to a logger writing to stderr with the prefix
	// "[selfcompile] "; log.New(io.Discard, "", 0) silences it.
	Logger *log.Logger

	// Progress receives the start and end of every stage (restore,
	// download, resolve, build, verify, replace), with elapsed times and
	// restored bytes. It defaults to printing them on stderr when stderr is
	// a terminal or GO_SELFCOMPILE_PROGRESS=1 (ProgressTo(os.Stderr)).
	Progress func(Event)

	plugins        []string
	workdir        string
	releaseWorkdir func()
}

// Plugin adds a plugin to install with the next Compile: an import path,
// "path@version", or a local directory (a path starting with "./", "../"
// or "/"). Plugins already in the binary are kept.
func (c *SelfCompile) Plugin(spec string) {
	c.plugins = append(c.plugins, spec)
}

// Compile is CompileContext with a background context.
func (c *SelfCompile) Compile() error {
	return c.CompileContext(context.Background())
}

// CompileContext rebuilds the program with the plugins already installed
// plus those added with Plugin, checks the new binary, and replaces the
// executable with it. On any error the executable is left as it was. It is
// Apply with one Add per plugin.
func (c *SelfCompile) CompileContext(ctx context.Context) error {
	var changes []Change
	for _, p := range c.plugins {
		changes = append(changes, Change{Op: Add, Spec: p})
	}
	_, err := c.Apply(ctx, changes...)
	return err
}

// Apply changes the binary's plugin set in one rebuild: it adds, removes
// and upgrades plugins, keeping the others. It returns the plan it
// computed before building: the plugins added, removed and upgraded, and
// the host dependencies whose version the change moves. With DryRun it
// stops there; with KeepHostDeps it refuses, before building, a plan that
// moves host dependencies. On any error the executable is left as it was.
//
// The steps: validate the changes; lock the executable and check that its
// directory is writable and the disks have room; ask the executable on
// disk what it has; restore the bundle (the toolchain from the cache when
// it is there) and the plugin bundle; resolve the plugins and make the
// plan; write the stub; go build; run the new binary's probe; swap it in,
// keeping the old one for Rollback.
func (c *SelfCompile) Apply(ctx context.Context, changes ...Change) (plan *Plan, err error) {
	if c.AutoCleanup {
		defer func() {
			if cerr := c.Cleanup(); err == nil {
				err = cerr
			}
		}()
	}
	cs, err := parseChanges(changes)
	if err != nil {
		return nil, err
	}
	bundle := c.Bundle
	if bundle == "" {
		bundle = registered.bundle
	}
	if bundle == "" {
		return nil, fmt.Errorf("%w: run go generate in the main package, then go build", ErrNoBundle)
	}
	if err := checkTrailer(bundle); err != nil {
		return nil, err
	}
	target, err := c.target()
	if err != nil {
		return nil, err
	}
	if !c.DryRun {
		release, err := c.lock(ctx, target)
		if err != nil {
			return nil, err
		}
		defer release()
		if fi, err := os.Stat(target); err == nil {
			// The new binary, and a copy of the old one where hard links fail.
			if err := ensureSpace(filepath.Dir(target), 2*uint64(fi.Size()), "the new binary"); err != nil {
				return nil, err
			}
		}
	}

	cache, err := c.cacheRoot()
	if err != nil {
		return nil, err
	}
	if c.workdir != "" {
		c.Cleanup() // a previous Compile's, kept for inspection: each install starts afresh
	}
	root, prefix := cmpOr(c.Root, os.TempDir()), cmpOr(c.Prefix, "go-selfcompile")
	removeStale(root, prefix)
	if c.workdir, c.releaseWorkdir, err = lockedTempDir(root, prefix); err != nil {
		return nil, fmt.Errorf("selfcompile: creating workdir: %w", err)
	}
	installed, pluginBundle, bi := c.installedOnDisk(ctx, target, c.workdir)

	c.logf("Initializing workdir: %s", c.workdir)
	done := c.stage("restore")
	r, err := c.restore(ctx, bundle, c.workdir, cache)
	if err != nil {
		return nil, err
	}
	done()
	g := newGoTool(r, bi)
	var rec buildRecord
	if r.m.SkipSource {
		done := c.stage("download")
		if rec.HostVersion, err = c.fetchSource(ctx, g, r, bi, installed.HostVersion); err != nil {
			return nil, err
		}
		done()
	}
	done = c.stage("resolve")
	host, err := buildList(ctx, g)
	if err != nil {
		return nil, err
	}
	local, err := restorePluginBundle(pluginBundle, r, c.workdir)
	if err != nil {
		return nil, err
	}
	plugins, err := desiredPlugins(installed.Plugins, local, cs)
	if err != nil {
		return nil, err
	}
	if err := stageLocalPlugins(ctx, plugins, c.workdir, r.m.MainModule); err != nil {
		return nil, err
	}
	if rec.Plugins, err = c.resolvePlugins(ctx, g, r, plugins); err != nil {
		return nil, err
	}
	after, err := buildList(ctx, g)
	if err != nil {
		return nil, err
	}
	done()
	plan = makePlan(target, installed.Plugins, rec.Plugins, depsOf(bi, host), after)
	c.logf("%s", strings.TrimSuffix(plan.String(), "\n"))
	if c.DryRun {
		return plan, nil
	}
	if c.KeepHostDeps && len(plan.HostDeps) > 0 {
		return plan, &PlanError{Plan: plan}
	}

	mainDir := filepath.Join(r.src, filepath.FromSlash(r.m.MainDir))
	if len(rec.Plugins) > 0 {
		if err := writePluginBundle(ctx, r, plugins, host, after, filepath.Join(mainDir, PluginBundleFile)); err != nil {
			return nil, err
		}
	}
	if err := writeGenerated(mainDir, bundle, rec); err != nil {
		return nil, err
	}

	c.logf("Compiling workdir: %s", c.workdir)
	done = c.stage("build")
	stage, err := newStageDir(target)
	if err != nil {
		return nil, &TargetError{Path: target, Err: err}
	}
	defer os.RemoveAll(stage)
	staged := filepath.Join(stage, filepath.Base(target))
	args := append([]string{"build"}, buildFlags(bi, c.LDFlags)...)
	args = append(args, "-o", staged, "./"+r.m.MainDir)
	if _, err := g.run(ctx, args...); err != nil {
		return nil, attributeError(err, plugins)
	}

	done()
	c.logf("Verifying: %s", staged)
	done = c.stage("verify")
	if err := verifyBinary(ctx, staged, rec.Plugins, c.ProbeTimeout); err != nil {
		return nil, err
	}
	done()

	c.logf("Replacing binary: %s", target)
	done = c.stage("replace")
	if err := c.swapIn(target, staged); err != nil {
		return nil, err
	}
	done()
	return plan, nil
}

// lock checks that target's directory is writable, takes the install lock
// and removes what a killed install left. The caller calls release.
func (c *SelfCompile) lock(ctx context.Context, target string) (release func(), err error) {
	if err := checkWritable(target); err != nil {
		return nil, err
	}
	release, err = lockTarget(ctx, target, !c.NoWait, c.logf)
	if err != nil {
		return nil, err
	}
	removeLeftovers(target)
	return release, nil
}

// swapIn replaces target with newBin, keeps the old binary as the newest
// backup, and removes the backups beyond Backups.
func (c *SelfCompile) swapIn(target, newBin string) error {
	old, err := replaceExecutable(osFS, target, newBin)
	if err != nil {
		return &TargetError{Path: target, Err: err}
	}
	keep := c.Backups
	if keep == 0 {
		keep = 1
	}
	if keep < 0 {
		os.Remove(old) // on Windows this fails while the old binary runs; the next start removes it
		keep = 0
	}
	pruneBackups(target, keep)
	return nil
}

// depsOf returns the module versions that the binary was built with, for
// the modules of the host's build list, so that a plan shows what moves
// from the installed binary; without build info, the host's own list.
func depsOf(bi *debug.BuildInfo, host map[string]listedModule) map[string]listedModule {
	if bi == nil {
		return host
	}
	out := map[string]listedModule{}
	for path, m := range host {
		out[path] = m
	}
	for _, d := range bi.Deps {
		if m, ok := out[d.Path]; ok {
			m.Version = d.Version
			out[d.Path] = m
		}
	}
	return out
}

// installedOnDisk returns the plugins and build info of the executable on
// disk now, which another installer may have replaced since this process
// started: building on this process's own list would drop that install's
// plugins. A target that is not a self-compiling program is not run.
func (c *SelfCompile) installedOnDisk(ctx context.Context, target, workdir string) (buildRecord, string, *debug.BuildInfo) {
	bi, err := buildinfo.ReadFile(target)
	if err != nil {
		bi, _ = debug.ReadBuildInfo()
		return registered.record, registered.plugins, bi
	}
	if !usesLibrary(bi) {
		return registered.record, registered.plugins, bi
	}
	export := filepath.Join(workdir, "installed-plugins.bundle")
	rec, err := probe(ctx, target, c.ProbeTimeout, export)
	if err != nil {
		c.logf("Could not ask %s for its plugins (%v); using this process's list", target, err)
		return registered.record, registered.plugins, bi
	}
	plugins, err := os.ReadFile(export)
	if err != nil {
		c.logf("%s did not export its plugins (%v); using this process's list", target, err)
		return registered.record, registered.plugins, bi
	}
	return rec, string(plugins), bi
}

func usesLibrary(bi *debug.BuildInfo) bool {
	if bi.Main.Path == libraryPath {
		return true
	}
	for _, d := range bi.Deps {
		if d.Path == libraryPath {
			return true
		}
	}
	return false
}

// Cleanup removes the workdir. The caches under CacheDir stay.
func (c *SelfCompile) Cleanup() error {
	if c.workdir == "" {
		return nil
	}
	c.logf("Cleaning up: %s", c.workdir)
	makeTreeWritable(c.workdir)
	err := os.RemoveAll(c.workdir)
	c.releaseWorkdir()
	c.workdir, c.releaseWorkdir = "", nil
	return err
}

func (c *SelfCompile) parsePlugins() ([]pluginSpec, error) {
	var specs []pluginSpec
	for _, s := range c.plugins {
		sp, err := parseSpec(s)
		if err != nil {
			return nil, err
		}
		specs = append(specs, sp)
	}
	return specs, nil
}

func (c *SelfCompile) logf(format string, args ...any) {
	l := c.Logger
	if l == nil {
		l = defaultLogger
	}
	l.Printf(format, args...)
}

var defaultLogger = log.New(os.Stderr, "[selfcompile] ", log.LstdFlags)

// target returns the executable to replace, with symlinks resolved so that
// a link to the binary stays a link and the file it points to is replaced.
func (c *SelfCompile) target() (string, error) {
	if c.Target == "" {
		return startExe()
	}
	p, err := filepath.EvalSymlinks(c.Target)
	if err != nil {
		return "", &TargetError{Path: c.Target, Err: err}
	}
	return filepath.Abs(p)
}

// startExe is the running executable as it was when the program started.
// It is resolved before any swap: afterwards os.Executable would name the
// file that was renamed aside, or a deleted one.
var startExe = sync.OnceValues(func() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("selfcompile: cannot find the running executable: %w", err)
	}
	return filepath.EvalSymlinks(exe)
})

func init() { startExe() }

// registered is what the generated selfcompile_bundle.go passed to Register.
var registered struct {
	bundle  string
	plugins string // the plugin bundle
	record  buildRecord
}

// Register is called by the generated selfcompile_bundle.go, from an init
// function of package main, with the embedded bundle, the embedded plugin
// bundle ("" without plugins) and the build record of the stub. If the process was started as a verification probe, it
// answers and exits: main's init runs after every plugin's init, so the
// answer proves that they all ran. Host code does not call Register.
func Register(bundle, plugins, record string) {
	answerProbe(record, plugins)
	removeAsides()
	registered.bundle, registered.plugins = bundle, plugins
	if err := json.Unmarshal([]byte(record), &registered.record); err != nil {
		panic("selfcompile: malformed plugin record in selfcompile_bundle.go: " + err.Error())
	}
}

// Installed returns the plugins the running binary was built with, in
// import path order.
func Installed() []PluginInfo {
	return append([]PluginInfo(nil), registered.record.Plugins...)
}

// writeGenerated writes the stub for plugins and the bundle into the main
// package directory of the restored source. The bundle is the running
// binary's own, so the new binary carries it again and stays
// self-compiling; it is streamed to disk, never copied into the heap.
func writeGenerated(mainDir, bundle string, rec buildRecord) error {
	stub, err := renderStub(rec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(mainDir, StubFile), stub, 0o644); err != nil {
		return err
	}
	f, err := os.Create(filepath.Join(mainDir, BundleFile))
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, &releasingReader{s: bundle}); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// fetchSource gets the host's module source through the module proxy, for
// bundles generated with --skip-source, and returns the version fetched:
// the one Install names, or the one the binary was built from, as its build
// info or (for a rebuilt binary) its build record says.
func (c *SelfCompile) fetchSource(ctx context.Context, g *goTool, r *restored, bi *debug.BuildInfo, recorded string) (string, error) {
	version := recorded
	if _, v, ok := strings.Cut(c.Install, "@"); ok {
		version = v
	} else if bi != nil && bi.Main.Path == r.m.MainModule && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	if version == "" {
		return "", fmt.Errorf("%w: the bundle was generated with --skip-source and this binary records no version of %s; set SelfCompile.Install to %s@VERSION",
			ErrNoSource, r.m.MainModule, r.m.MainPackage)
	}
	c.logf("Fetching %s@%s", r.m.MainModule, version)
	tmp := *g
	tmp.dir = filepath.Dir(r.src)
	out, err := tmp.run(ctx, "mod", "download", "-json", "--", r.m.MainModule+"@"+version)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrNoSource, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("%w: go mod download %s@%s: %s", ErrNoSource, r.m.MainModule, version, mod.Error)
	}
	return version, copyTree(mod.Dir, r.src)
}

func shortHash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:4])
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}
