package selfcompile

// A run of an install, and the compositions of its stages. The stages,
// in run order, each in its file: begin (here: lock and read the
// executable, take the cache and a workdir) returns the run; restore
// (restore.go) returns a layout; resolve (resolve.go) a resolution with
// the plan; checkBundle (check.go), for Apply; build (build.go) the built
// binary; verify (probe.go); replace (replace.go) the backup. Apply, Plan,
// TrimCache, BuildGoPlugin, CheckBundle and InstallProcess each compose
// the stages they need, and choose what a stage does differently for them
// by its arguments.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/shazow/go-selfcompile/hook"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/known"
	"github.com/shazow/go-selfcompile/internal/lockfile"
	"github.com/shazow/go-selfcompile/internal/proc"
	"github.com/shazow/go-selfcompile/internal/swap"
)

// run is one run of an install: what it holds from begin to end, and
// nothing that a stage hands to the next (each stage takes its inputs and
// returns its outputs).
type run struct {
	c             *SelfCompile
	current       Stage       // the stage running, which a cancellation names
	undo          []func()    // what end undoes, last first
	cache         string      // CacheDir
	workdir       string      // private to this run, removed at its end
	removeWorkdir func()      // once; replace starts it early
	bin           *exe.File   // the executable on disk and its bundles
	rec           buildRecord // the executable's record, as read
}

// runOptions is what a composition of the stages asks of begin.
type runOptions struct {
	replacing bool // the run replaces the executable: it takes the executable's lock
	cacheHeld bool // the caller holds the cache's lock (TrimCache): begin takes none
}

// apply is Apply: begin, restore, resolve, check the bundle, build
// beside the executable, verify and replace.
func (c *SelfCompile) apply(ctx context.Context, ch Change) (plan *Plan, err error) {
	start, free := time.Now(), c.cacheDiskFree()
	defer func() {
		if plan != nil && !plan.Empty() {
			plan.Took = time.Since(start)
			if after := c.cacheDiskFree(); free > 0 && after > 0 {
				plan.DiskUsed = free - after
			}
		}
	}()
	r, l, cs, err := c.prepare(ctx, ch, runOptions{replacing: true})
	if err != nil {
		return nil, err
	}
	defer r.end()
	defer func() { err = canceled(ctx, r.current, err) }()
	res, err := l.resolve(ctx, cs, true)
	if err != nil {
		return nil, err
	}
	if err := res.estimate(ctx); err != nil || res.plan.Empty() {
		if err == nil {
			c.logf("No change to the plugins: nothing to build")
		}
		return res.plan, err
	}
	if res.plan.Estimate != nil {
		c.logf("%s", res.plan.Estimate)
	}
	backup, err := res.install(ctx)
	res.plan.Backup = backup
	return res.plan, err
}

// install runs, for apply, the stages after the plan: the check of a
// release's bundle, the build beside the executable, the verification and
// the swap. It returns the backup of the old binary.
func (res *resolution) install(ctx context.Context) (string, error) {
	if res.bin.Plugins == nil { // a release build: rebuilt ones were made from their bundle
		if err := res.checkBundle(ctx); err != nil {
			return "", err
		}
	}
	b, err := res.build(ctx, true)
	if err != nil {
		return "", err
	}
	if err := res.verify(ctx, b); err != nil {
		return "", err
	}
	backup, err := res.replace(ctx, b)
	if err == nil {
		res.c.remember(res.bin.Path)
	}
	return backup, err
}

// plan is Plan: begin, restore and resolve, and the plan's checks and
// estimate; it builds nothing.
func (c *SelfCompile) plan(ctx context.Context, ch Change) (plan *Plan, err error) {
	r, l, cs, err := c.prepare(ctx, ch, runOptions{})
	if err != nil {
		return nil, err
	}
	defer r.end()
	defer func() { err = canceled(ctx, r.current, err) }()
	res, err := l.resolve(ctx, cs, false) // Plan returns the plan to the caller, who prints it
	if err != nil {
		return nil, err
	}
	return res.plan, res.estimate(ctx)
}

// trimBuild is the build of TrimCache, whose caller holds the cache's
// lock: begin, restore, resolve the plugins the executable has, and build
// into the workdir, swapping nothing.
func (c *SelfCompile) trimBuild(ctx context.Context) (err error) {
	r, l, cs, err := c.prepare(ctx, Change{}, runOptions{cacheHeld: true})
	if err != nil {
		return err
	}
	defer r.end()
	defer func() { err = canceled(ctx, r.current, err) }()
	res, err := l.resolve(ctx, cs, true)
	if err != nil {
		return err
	}
	_, err = res.build(ctx, false)
	return err
}

// estimate refuses, with KeepHostDeps, a plan that moves the host's
// dependencies (a dry run says what the real run does), and sets the
// plan's estimate of a cold build.
func (res *resolution) estimate(ctx context.Context) error {
	plan := res.plan
	if res.c.KeepHostDeps && len(plan.HostDeps) > 0 {
		return &planError{plan}
	}
	if !plan.Empty() {
		plan.Estimate = res.coldEstimate(ctx)
	}
	return nil
}

// checkUnprivileged refuses, in a program that runs with privileges from
// its file (setuid, setgid, file capabilities), everything that touches
// its binary or its caches, reading the caches included (Installed reads
// neither): the user who runs it is not the one whose binary and caches
// they are, and its environment (PATH, HOME, the go settings) is that
// user's to set.
func checkUnprivileged() error {
	if proc.Privileged() {
		return fmt.Errorf("%w (setuid, setgid or file capabilities): change its plugins as the user who owns it, running it without them", ErrPrivileged)
	}
	return nil
}

// prepare parses a change, begins a run with opts and restores the
// executable's bundles. The caller ends the run.
func (c *SelfCompile) prepare(ctx context.Context, ch Change, opts runOptions) (*run, *layout, *changeSet, error) {
	cs, err := parseChanges(ch)
	if err != nil {
		return nil, nil, nil, err
	}
	r, err := c.begin(ctx, opts)
	if err != nil {
		return nil, nil, nil, canceled(ctx, StageStart, err)
	}
	l, err := r.restore(ctx, opts.replacing)
	if err != nil {
		r.end()
		return nil, nil, nil, canceled(ctx, r.current, err)
	}
	return r, l, cs, nil
}

// begin takes what a run holds until its end: the executable's lock (when
// opts.replacing), its bundles, the cache's lock (unless opts.cacheHeld)
// and a private workdir. It returns the run; the caller calls end.
func (c *SelfCompile) begin(ctx context.Context, opts runOptions) (r *run, err error) {
	if err := checkUnprivileged(); err != nil {
		return nil, err
	}
	r = &run{c: c, current: StageStart}
	defer func() {
		if err != nil {
			r.end()
		}
	}()
	failpoint.Hit(ctx, "begin")
	target, err := c.target()
	if err != nil {
		return r, err
	}
	if opts.replacing {
		if err := r.lock(ctx, target); err != nil {
			return r, err
		}
	}
	if r.cache, err = c.cacheRoot(); err != nil {
		return r, err
	}
	if err := r.open(target); err != nil {
		return r, err
	}
	failpoint.Hit(ctx, "opened")
	if err := checkWritable(filepath.Join(r.cache, buildDir)); err != nil {
		return r, err
	}
	if !opts.cacheHeld {
		release, err := lockCache(ctx, r.cache, false, c.logf)
		if err != nil {
			return r, err
		}
		r.undo = append(r.undo, release)
	}
	return r, r.makeWorkdir(ctx)
}

// lock takes the executable's install lock, removes what killed installs
// left beside it, and checks that it may be replaced, with everything
// that makes it what it is. The check runs under the lock: another
// installer removes leftovers, its check file among them, only under it.
func (r *run) lock(ctx context.Context, target string) error {
	l, err := lockfile.Open(ctx, lockfile.TargetName(target), true, !r.c.NoWait, func() {
		r.c.logf("Waiting for another install of %s to finish", target)
	})
	switch {
	case err == lockfile.ErrBusy:
		return fmt.Errorf("%w on %s (the lock is %s)", ErrLocked, target, lockfile.TargetName(target))
	case err != nil:
		return &TargetError{Path: target, Err: fmt.Errorf("the install lock: %w", err)}
	}
	r.undo = append(r.undo, l.Release)
	swap.RemoveLeftovers(target)
	failpoint.Hit(ctx, "locked")
	if err := swap.CheckReplaceable(target); err != nil {
		return &TargetError{Path: target, Err: err}
	}
	return nil
}

// open reads the executable's bundles and record, and refuses one on disk
// that is another build of the host than the running one, as after a
// package manager upgraded it: building from either would replace the
// newer with the older, or mix them.
func (r *run) open(target string) (err error) {
	if r.bin, err = openExe(target, r.known()); err != nil {
		return err
	}
	r.undo = append(r.undo, func() { r.bin.Close() })
	if r.rec, err = exe.ReadRecord[PluginInfo](r.bin); err != nil {
		return err
	}
	self, err := hook.Executable()
	shared, toolchain, _, _ := hook.Registered()
	if err != nil || shared == "" || !fsutil.SameFile(self, target) {
		return nil // installing into another program's binary: it is its own source of truth
	}
	if !r.bin.SameHost(trailerOf(shared), trailerOf(toolchain)) {
		return &TargetError{Path: target, Err: fmt.Errorf("%w: it was replaced since this program started (by an upgrade?); run the command again with the new binary", ErrStale)}
	}
	return nil
}

// known is where the install remembers the executables whose bundles it
// checked.
func (r *run) known() known.Store { return knownStore(r.cache) }

// knownStore is where the cache remembers the executables whose bundles
// were checked, so that opening one again does not read and hash it whole.
func knownStore(cache string) known.Store { return known.Store{Dir: filepath.Join(cache, knownDir)} }

// openExe reads an executable that an install builds from: it carries a
// toolchain bundle for this platform. k remembers its checked bundles.
func openExe(path string, k known.Store) (*exe.File, error) {
	x, err := exe.OpenKnown(path, k)
	if err != nil {
		return nil, &TargetError{Path: path, Err: err}
	}
	if err := checkToolchain(x); err != nil {
		x.Close()
		return nil, err
	}
	return x, nil
}

// checkToolchain refuses an executable that carries no toolchain that
// runs here.
func checkToolchain(x *exe.File) error {
	if x.Toolchain == nil {
		return fmt.Errorf("%w: %s was built for %s/%s, and its bundle was generated for %v only, so it cannot install plugins here: ask its vendor for a build that can (for the vendor: run go-selfcompile --targets with %s/%s added, then go build again)",
			ErrNoBundle, x.Path, runtime.GOOS, runtime.GOARCH, x.Shared.Manifest.Targets, runtime.GOOS, runtime.GOARCH)
	}
	if m := x.Toolchain.Manifest; m.GOOS != runtime.GOOS || m.GOARCH != runtime.GOARCH {
		return fmt.Errorf("%w: the toolchain in %s runs on %s/%s and this is %s/%s", ErrPlatform, x.Path, m.GOOS, m.GOARCH, runtime.GOOS, runtime.GOARCH)
	}
	return nil
}

// trailerOf returns the trailer of a bundle that the running program
// embeds.
func trailerOf(s string) []byte { return bundle.Trailer(strings.NewReader(s), int64(len(s))) }

// makeWorkdir creates the install's private directory under the cache,
// after removing those that killed installs left.
func (r *run) makeWorkdir(ctx context.Context) error {
	root := workRoot(r.cache)
	lockfile.RemoveStale(root, workPrefix)
	dir, release, err := lockfile.TempDir(root, workPrefix)
	if err != nil {
		return fmt.Errorf("creating a workdir: %w", err)
	}
	r.workdir = dir
	r.removeWorkdir = sync.OnceFunc(func() {
		r.c.logAt("Cleaning up", dir)
		fsutil.RemoveAll(dir)
	})
	r.undo = append(r.undo, func() {
		r.removeWorkdir() // or waits for the removal that replace started
		release()
	})
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return err
	}
	r.c.logAt("Initializing workdir", dir)
	failpoint.Hit(ctx, "workdir")
	return nil
}

// end undoes what the install holds: the workdir goes, with the go
// command's temporary files (GOTMPDIR points into it), the new binary's
// directory beside the executable, and the lock.
func (r *run) end() {
	for i := len(r.undo) - 1; i >= 0; i-- {
		r.undo[i]()
	}
	r.undo = nil
}

// stage reports the start of a stage and returns the function that
// reports its end.
func (r *run) stage(s Stage) (done func()) { return r.stageWith(Event{Stage: s}) }

// stageWith reports the start of the stage that e names, with what else
// e says (the build's estimate), and returns the function that reports
// its end.
func (r *run) stageWith(e Event) (done func()) {
	r.current = e.Stage
	start := time.Now()
	r.c.emit(e)
	return func() { r.c.emit(Event{Stage: e.Stage, Done: true, Elapsed: time.Since(start)}) }
}

// target returns the executable to replace, with symlinks resolved so
// that a link to the binary stays a link and the file it points to is
// replaced.
func (c *SelfCompile) target() (string, error) {
	if c.Target == "" {
		self, err := hook.Executable()
		if err != nil {
			return "", err
		}
		if t, ok := swap.TargetOf(self); ok { // a backup, run to put itself back
			return t, nil
		}
		return self, nil
	}
	p, err := filepath.EvalSymlinks(c.Target)
	if err != nil {
		return "", &TargetError{Path: c.Target, Err: err}
	}
	return filepath.Abs(p)
}

// spareBytes is what an install keeps free on its cache's disk beyond
// what it knows it writes: the build cache entries of what it compiles.
const spareBytes = 128 << 20

// checkSpace checks, before anything is written, that each disk has the
// room the install needs: the cache's, for the restore bytes given, the
// go command's output (a binary as large as the executable) and build
// cache entries; the executable's, for the new binary, and a copy of the
// old one as the backup where hard links fail. A disk that holds both
// needs both.
func (r *run) checkSpace(restore int64, replacing bool) error {
	bin := uint64(r.bin.Info.Size())
	need := map[string]uint64{r.cache: uint64(restore) + spareBytes}
	what := map[string]string{r.cache: "the toolchain, the caches and the build"}
	if replacing {
		need[r.cache] += bin
		dir := filepath.Dir(r.bin.Path)
		if fsutil.SameDisk(dir, r.cache) {
			need[r.cache] += 2 * bin
			what[r.cache] += ", and the new binary beside " + r.bin.Path
		} else {
			need[dir], what[dir] = 2*bin, "the new binary and a backup of the old one"
		}
	}
	for dir, n := range need {
		if free, err := fsutil.DiskFree(dir); err == nil && free < n {
			return &spaceError{dir: dir, what: what[dir], need: n, free: free}
		}
	}
	return nil
}
