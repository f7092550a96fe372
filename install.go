package selfcompile

// An install is one run of Apply or Plan, and the stages it runs in
// order: lock and read the executable (here), restore, resolve, build,
// verify, replace.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shazow/go-selfcompile/hook"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/known"
	"github.com/shazow/go-selfcompile/internal/lockfile"
	"github.com/shazow/go-selfcompile/internal/proc"
	"github.com/shazow/go-selfcompile/internal/swap"
)

// install is one run of Apply or Plan: what each stage hands to the next.
type install struct {
	c       *SelfCompile
	ctx     context.Context
	mode    mode     // what the run does
	current Stage    // the stage running, which a cancellation names
	undo    []func() // what end undoes, last first

	removeWorkdir func()         // once; replace starts it early
	synced        chan struct{}  // closed once the new binary's first sync is done (settle)
	checked       chan exe.Spans // the new binary's checked bundles, if they are good (settle)

	bin     *exe.File    // the executable on disk and its bundles
	rec     buildRecord  // the executable's record; after resolve, the new binary's
	cache   string       // CacheDir
	workdir string       // private to this install, removed at its end
	r       *restored    // where restore laid the bundles out
	g       gocmd.Go     // the restored go command
	gomod   *goMod       // the restored host's go.mod, between the steps that edit it
	vendor  *vendor      // the vendor's catalog and policy, nil without
	plugins []pluginSpec // the plugin set to build

	pluginBundle   bool            // whether the new binary embeds a plugins bundle
	bundlesWritten bool            // whether the bundles are in the source's bundle package
	after          gosrc.BuildList // the new build list
	packages       atomic.Int64    // packages in the build, for progress; 0 until counted
	compiled       atomic.Int64    // packages compiled so far, by the check's build and the build
	compileStart   time.Time       // when the first of them started
	restored       int64           // bytes the restore stage wrote
	cost           *Estimate       // what the build costs, when it is cold
	newBin         string          // the new binary, in a directory beside the executable
	backup         string          // the old binary, kept as a backup by the swap
}

// mode is what a run of the install does.
type mode int

const (
	modePlan    mode = iota // Plan: stop at the plan
	modeApply               // Apply: build, verify and replace
	modeTrim                // TrimCache: build into the workdir, under the cache lock TrimCache holds
	modeLive                // BuildGoPlugin: build and verify in the workdir, swap nothing
	modeCheck               // CheckBundle: check the bundle, swap nothing
	modeProcess             // InstallProcess: restore, and build a process plugin beside
)

// run runs an install.
func (c *SelfCompile) run(ctx context.Context, ch Change, m mode) (plan *Plan, err error) {
	start, free := time.Now(), int64(0)
	if m == modeApply {
		free = c.cacheDiskFree()
	}
	defer func() {
		if plan != nil && m == modeApply && !plan.Empty() {
			plan.Took = time.Since(start)
			if after := c.cacheDiskFree(); free > 0 && after > 0 {
				plan.DiskUsed = free - after
			}
		}
	}()
	in, cs, err := c.restored(ctx, ch, m)
	if err != nil {
		return nil, err
	}
	defer in.end()
	defer func() { err = canceled(ctx, in.current, err) }()
	if plan, err = in.resolve(cs); err != nil {
		return plan, err
	}
	if m == modeTrim {
		return plan, in.build()
	}
	if c.KeepHostDeps && len(plan.HostDeps) > 0 { // a dry run says what the real run does
		return plan, &planError{plan}
	}
	if !plan.Empty() {
		in.cost = in.estimate(in.restored)
		plan.Estimate = in.cost
	}
	if m == modePlan {
		return plan, nil
	}
	if plan.Empty() {
		c.logf("No change to the plugins: nothing to build")
		return plan, nil
	}
	if in.cost != nil {
		c.logf("%s", in.cost)
	}
	if err := in.checkBundle(); err != nil {
		return plan, err
	}
	if err := in.build(); err != nil {
		return plan, err
	}
	if err := in.verify(); err != nil {
		return plan, err
	}
	if err = in.replace(); err == nil {
		c.remember(in.bin.Path)
	}
	plan.Backup = in.backup
	return plan, err
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

// restored parses a change, begins an install in mode m and restores
// the executable's bundles. The caller ends the install.
func (c *SelfCompile) restored(ctx context.Context, ch Change, m mode) (*install, *changeSet, error) {
	cs, err := parseChanges(ch)
	if err != nil {
		return nil, nil, err
	}
	in, err := c.begin(ctx, m)
	if err != nil {
		return nil, nil, canceled(ctx, StageStart, err)
	}
	if err := in.restore(); err != nil {
		in.end()
		return nil, nil, canceled(ctx, in.current, err)
	}
	return in, cs, nil
}

// begin takes what an install holds until its end: the executable's lock
// (for Apply), its bundles, the cache and a private workdir. The caller
// calls end.
func (c *SelfCompile) begin(ctx context.Context, m mode) (in *install, err error) {
	if err := checkUnprivileged(); err != nil {
		return nil, err
	}
	in = &install{c: c, ctx: ctx, current: StageStart, mode: m}
	defer func() {
		if err != nil {
			in.end()
		}
	}()
	failpoint.Hit(ctx, "begin")
	target, err := c.target()
	if err != nil {
		return in, err
	}
	if m == modeApply {
		if err := in.lock(target); err != nil {
			return in, err
		}
	}
	if in.cache, err = c.cacheRoot(); err != nil {
		return in, err
	}
	if err := in.open(target); err != nil {
		return in, err
	}
	failpoint.Hit(ctx, "opened")
	if err := checkWritable(filepath.Join(in.cache, buildDir)); err != nil {
		return in, err
	}
	if m != modeTrim {
		release, err := lockCache(ctx, in.cache, false, c.logf)
		if err != nil {
			return in, err
		}
		in.undo = append(in.undo, release)
	}
	return in, in.makeWorkdir()
}

// lock takes the executable's install lock, removes what killed installs
// left beside it, and checks that it may be replaced, with everything
// that makes it what it is. The check runs under the lock: another
// installer removes leftovers, its check file among them, only under it.
func (in *install) lock(target string) error {
	l, err := lockfile.Open(in.ctx, lockfile.TargetName(target), true, !in.c.NoWait, func() {
		in.c.logf("Waiting for another install of %s to finish", target)
	})
	switch {
	case err == lockfile.ErrBusy:
		return fmt.Errorf("%w on %s (the lock is %s)", ErrLocked, target, lockfile.TargetName(target))
	case err != nil:
		return &TargetError{Path: target, Err: fmt.Errorf("the install lock: %w", err)}
	}
	in.undo = append(in.undo, l.Release)
	swap.RemoveLeftovers(target)
	failpoint.Hit(in.ctx, "locked")
	if err := swap.CheckReplaceable(target); err != nil {
		return &TargetError{Path: target, Err: err}
	}
	return nil
}

// open reads the executable's bundles and record, and refuses one on disk
// that is another build of the host than the running one, as after a
// package manager upgraded it: building from either would replace the
// newer with the older, or mix them.
func (in *install) open(target string) (err error) {
	if in.bin, err = openExe(target, in.known()); err != nil {
		return err
	}
	in.undo = append(in.undo, func() { in.bin.Close() })
	if in.rec, err = exe.ReadRecord[PluginInfo](in.bin); err != nil {
		return err
	}
	self, err := hook.Executable()
	shared, toolchain, _, _ := hook.Registered()
	if err != nil || shared == "" || !fsutil.SameFile(self, target) {
		return nil // installing into another program's binary: it is its own source of truth
	}
	if !in.bin.SameHost(trailerOf(shared), trailerOf(toolchain)) {
		return &TargetError{Path: target, Err: fmt.Errorf("%w: it was replaced since this program started (by an upgrade?); run the command again with the new binary", ErrStale)}
	}
	return nil
}

// known is where the install remembers the executables whose bundles it
// checked.
func (in *install) known() known.Store { return knownStore(in.cache) }

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
func (in *install) makeWorkdir() error {
	root := workRoot(in.cache)
	lockfile.RemoveStale(root, workPrefix)
	dir, release, err := lockfile.TempDir(root, workPrefix)
	if err != nil {
		return fmt.Errorf("creating a workdir: %w", err)
	}
	in.workdir = dir
	in.removeWorkdir = sync.OnceFunc(func() {
		in.c.logAt("Cleaning up", dir)
		fsutil.RemoveAll(dir)
	})
	in.undo = append(in.undo, func() {
		in.removeWorkdir() // or waits for the removal that replace started
		release()
	})
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return err
	}
	in.c.logAt("Initializing workdir", dir)
	failpoint.Hit(in.ctx, "workdir")
	return nil
}

// end undoes what the install holds: the workdir goes, with the go
// command's temporary files (GOTMPDIR points into it), the new binary's
// directory beside the executable, and the lock.
func (in *install) end() {
	for i := len(in.undo) - 1; i >= 0; i-- {
		in.undo[i]()
	}
	in.undo = nil
}

// stage reports the start of a stage and returns the function that
// reports its end.
func (in *install) stage(s Stage) (done func()) {
	in.current = s
	start := time.Now()
	e := Event{Stage: s}
	if s == StageBuild {
		e.Estimate = in.cost
	}
	in.c.emit(e)
	return func() { in.c.emit(Event{Stage: s, Done: true, Elapsed: time.Since(start)}) }
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

// mainDir is the main package's directory in the restored source.
func (in *install) mainDir() string {
	return filepath.Join(in.r.module, filepath.FromSlash(in.bin.Shared.Manifest.MainDir))
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
func (in *install) checkSpace(restore int64) error {
	bin := uint64(in.bin.Info.Size())
	need := map[string]uint64{in.cache: uint64(restore) + spareBytes}
	what := map[string]string{in.cache: "the toolchain, the caches and the build"}
	if in.mode == modeApply {
		need[in.cache] += bin
		dir := filepath.Dir(in.bin.Path)
		if fsutil.SameDisk(dir, in.cache) {
			need[in.cache] += 2 * bin
			what[in.cache] += ", and the new binary beside " + in.bin.Path
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
