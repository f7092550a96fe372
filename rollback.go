package selfcompile

// Rollback: a backup that an install kept, checked, probed and put back.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/known"
	"github.com/shazow/go-selfcompile/internal/swap"
)

// Rollback puts back the previous binary, kept by the last install, after
// checking that it is a build of the same program from the same bundles,
// complete, and that it starts. The binary it replaces becomes the newest
// backup, so a second Rollback undoes the first. Rollback works while any
// process runs the previous or the current binary, and from the backup
// itself, run as itself, when the current binary no longer starts.
func (c *SelfCompile) Rollback(ctx context.Context) error {
	if err := checkUnprivileged(); err != nil {
		return apiErr(err)
	}
	target, err := c.target()
	if err != nil {
		return apiErr(err)
	}
	r := &run{c: c}
	defer r.end()
	if err := r.lock(ctx, target); err != nil {
		return apiErr(err)
	}
	prev, err := newestBackup(target)
	if err != nil {
		return apiErr(err)
	}
	// Staged by a hard link, so that it stays a backup if the swap fails;
	// its probe writes its answer in the same private directory.
	dir, err := swap.NewDir(target)
	if err != nil {
		return apiErr(&TargetError{Path: target, Err: err})
	}
	defer os.RemoveAll(dir)
	c.logf("Verifying: %s", prev)
	if _, err := probe(ctx, prev, dir, c.verifyTimeout(), nil); err != nil {
		return apiErr(&TargetError{Path: target, Backup: prev, Err: fmt.Errorf("it does not start: %v", err)})
	}
	staged := filepath.Join(dir, filepath.Base(target))
	if err := swap.LinkOrCopy(prev, staged); err != nil {
		return apiErr(&TargetError{Path: target, Err: err})
	}
	c.logf("Replacing binary: %s", target)
	if _, err := c.swapIn(ctx, target, staged); err != nil {
		return apiErr(err)
	}
	os.Remove(prev) // now the installed binary; with Backups > 1 it would stay as a duplicate
	c.remember(target)
	return nil
}

// PlanRollback says what Rollback would do, without running or changing
// anything: the plan from the plugins of the executable to those of the
// backup it would put back, which it checks as Rollback does but does not
// run.
func (c *SelfCompile) PlanRollback(ctx context.Context) (*Plan, error) {
	if err := checkUnprivileged(); err != nil {
		return nil, apiErr(err)
	}
	target, err := c.target()
	if err != nil {
		return nil, apiErr(err)
	}
	prev, err := newestBackup(target)
	if err != nil {
		return nil, apiErr(err)
	}
	var recs [2]buildRecord
	for i, path := range []string{target, prev} {
		x, err := exe.Open(path)
		if err != nil {
			return nil, apiErr(&TargetError{Path: target, Err: err})
		}
		recs[i], err = exe.ReadRecord[PluginInfo](x)
		x.Close()
		if err != nil {
			return nil, apiErr(err)
		}
	}
	plan := makePlan(target, recs[0].Plugins, recs[1].Plugins, nil, nil, nil)
	plan.Backup = prev
	return plan, nil
}

// newestBackup returns the backup Rollback would put back, checked.
func newestBackup(target string) (string, error) {
	bs := swap.Backups(target)
	if len(bs) == 0 {
		return "", fmt.Errorf("%w beside %s (installs keep SelfCompile.Backups of them)", ErrNoBackup, target)
	}
	return bs[0], checkBackup(target, bs[0])
}

// checkBackup checks, without running it, that a backup may replace the
// executable: it is a complete executable carrying its bundles, of the
// same main package, built from the same bundles (a package manager may
// have upgraded the program since the backup was made: rolling back then
// would downgrade it).
func checkBackup(target, backup string) error {
	bad := func(err error) error { return &TargetError{Path: target, Backup: backup, Err: err} }
	if err := swap.CheckBackupFile(target, backup); err != nil {
		return bad(err)
	}
	if err := exe.CheckComplete(backup); err != nil {
		return bad(fmt.Errorf("it is damaged or truncated: %w", err))
	}
	prev, err := openExe(backup, known.Store{})
	if err != nil {
		return bad(fmt.Errorf("it is not a self-compiling build of this program: %w", err))
	}
	defer prev.Close()
	cur, err := exe.Open(target)
	if err != nil {
		return nil // the executable is broken: any backup of this program beats it
	}
	defer cur.Close()
	if prev.Shared.Manifest.MainPackage != cur.Shared.Manifest.MainPackage || prev.Build.Main.Path != cur.Build.Main.Path {
		return bad(fmt.Errorf("%w: it is a build of %s, not of %s", ErrStale, prev.Shared.Manifest.MainPackage, cur.Shared.Manifest.MainPackage))
	}
	if !cur.SameHost(prev.HostTrailers()) {
		return bad(fmt.Errorf("%w: it is another build of the program than the one installed now (it was upgraded since?); rolling back would downgrade it", ErrStale))
	}
	return nil
}
