package selfcompile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shazow/go-selfcompile/internal/gocmd"
)

// install is one run of Apply or Plan: what each stage hands to the next.
type install struct {
	c       *SelfCompile
	ctx     context.Context
	apply   bool     // Apply: build and replace; Plan: stop at the plan
	current string   // the stage running, which a cancellation names
	undo    []func() // what end undoes, last first

	bin     *binary // the executable on disk and its bundles
	cache   string  // CacheDir
	workdir string  // private to this install, removed at its end
	r       *restored
	g       gocmd.Go

	plugins      []pluginSpec // the plugin set to build
	rec          buildRecord  // what the new binary will record
	pluginBundle bool         // whether it embeds a plugins bundle
	after        map[string]listedModule
	packages     int // packages in the build, for progress

	stageDir, staged string // the new binary, beside the executable
}

// checkUnprivileged refuses, in a program that runs with privileges from
// its file (setuid, setgid, file capabilities), everything that touches
// its binary or its caches, reading the caches included (Installed reads
// neither): the user who runs it is not the one whose binary and caches
// they are, and its environment (PATH, HOME, the go settings) is that
// user's to set.
func checkUnprivileged() error {
	if privileged() {
		return fmt.Errorf("%w: this program runs with privileges from its file (setuid, setgid or file capabilities); change its plugins as the user who owns it, running it without them", ErrNotWritable)
	}
	return nil
}

// begin takes what an install holds until its end: the executable's lock
// (for Apply), its bundles, the cache and a private workdir. The caller
// calls end.
func (c *SelfCompile) begin(ctx context.Context, replace bool) (in *install, err error) {
	if err := checkUnprivileged(); err != nil {
		return nil, err
	}
	in = &install{c: c, ctx: ctx, apply: replace, current: "start"}
	defer func() {
		if err != nil {
			in.end()
		}
	}()
	failpoint(ctx, "begin")
	target, err := c.target()
	if err != nil {
		return in, err
	}
	if replace {
		if err := in.lock(target); err != nil {
			return in, err
		}
	}
	if in.bin, err = openBinary(target); err != nil {
		return in, err
	}
	in.undo = append(in.undo, func() { in.bin.Close() })
	if err := in.bin.checkCurrent(); err != nil {
		return in, err
	}
	failpoint(ctx, "opened")
	if replace {
		// The new binary, and a copy of the old one where hard links fail.
		if err := ensureSpace(filepath.Dir(target), 2*uint64(in.bin.info.Size()), "the new binary"); err != nil {
			return in, err
		}
	}
	if in.cache, err = c.cacheRoot(); err != nil {
		return in, err
	}
	release, err := lockCache(ctx, in.cache, false, c.logf)
	if err != nil {
		return in, err
	}
	in.undo = append(in.undo, release)
	return in, in.makeWorkdir()
}

// lock takes the executable's install lock, removes what killed installs
// left beside it, and checks that it may be replaced, with everything
// that makes it what it is. The check runs under the lock: another
// installer removes leftovers, its check file among them, only under it.
func (in *install) lock(target string) error {
	release, err := lockTarget(in.ctx, target, !in.c.NoWait, in.c.logf)
	if err != nil {
		return err
	}
	in.undo = append(in.undo, release)
	removeLeftovers(target)
	failpoint(in.ctx, "locked")
	return checkReplaceable(target)
}

// makeWorkdir creates the install's private directory under the cache,
// after removing those that killed installs left.
func (in *install) makeWorkdir() error {
	root := workRoot(in.cache)
	removeStale(root, workPrefix)
	dir, release, err := lockedTempDir(root, workPrefix)
	if err != nil {
		return fmt.Errorf("selfcompile: creating workdir: %w", err)
	}
	in.workdir = dir
	in.undo = append(in.undo, func() {
		in.c.logf("Cleaning up: %s", dir)
		removeTree(dir)
		release()
	})
	if err := os.Mkdir(filepath.Join(dir, "tmp"), 0o700); err != nil {
		return err
	}
	in.c.logf("Initializing workdir: %s", dir)
	failpoint(in.ctx, "workdir")
	return nil
}

// end undoes what the install holds: the workdir goes, with the go
// command's temporary files (GOTMPDIR points into it), the stage beside
// the executable, and the lock.
func (in *install) end() {
	for i := len(in.undo) - 1; i >= 0; i-- {
		in.undo[i]()
	}
	in.undo = nil
}

// stage reports the start of a stage and returns the function that
// reports its end.
func (in *install) stage(name string) (done func()) {
	in.current = name
	start := time.Now()
	in.c.emit(Event{Stage: name})
	return func() { in.c.emit(Event{Stage: name, Done: true, Elapsed: time.Since(start)}) }
}

// target returns the executable to replace, with symlinks resolved so
// that a link to the binary stays a link and the file it points to is
// replaced.
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

// mainDir is the main package's directory in the restored source.
func (in *install) mainDir() string {
	return filepath.Join(in.r.module, filepath.FromSlash(in.bin.sharedM.MainDir))
}
