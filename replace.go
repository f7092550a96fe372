package selfcompile

// The replace stage: the verified new binary swapped in for the
// executable, the old one kept as the newest backup (internal/swap does
// the file work).

import (
	"context"
	"errors"
	"os"

	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/swap"
)

// replace takes the verified new binary, swaps it in for the executable,
// keeping the old one as the newest backup, after checking that the
// executable is still the file the run read. It returns the backup's
// path, "" for none.
func (r *run) replace(ctx context.Context, b *built) (string, error) {
	done := r.stage(StageReplace)
	if err := r.bin.StillThere(); err != nil {
		if errors.Is(err, exe.ErrRewritten) {
			err = &staleError{err}
		}
		return "", &TargetError{Path: r.bin.Path, Err: err}
	}
	// Windows renames no file that a handle without FILE_SHARE_DELETE
	// holds, as Go opens files: the handle that read the bundles goes
	// first (found under Wine: "Sharing violation").
	r.bin.Close()
	r.c.logf("Replacing binary: %s", r.bin.Path)
	go r.removeWorkdir() // nothing reads it now; it goes while the new binary syncs
	<-b.synced           // the sync that build started, so that the swap's own is quick
	backup, err := r.c.swapIn(ctx, r.bin.Path, b.path)
	if err != nil {
		return "", err
	}
	if s, ok := <-b.checked; ok {
		s.RememberMoved(r.known(), r.bin.Path) // the next install need not check it again
	}
	done()
	return backup, nil
}

// swapIn replaces target with newBin, keeps the old binary as the newest
// backup, and removes the backups beyond Backups. It returns the newest
// backup, "" for none.
func (c *SelfCompile) swapIn(ctx context.Context, target, newBin string) (string, error) {
	fsys := swap.OS()
	fsys.Failpoint = failpoint.Func(ctx)
	old, err := swap.Replace(fsys, target, newBin)
	var ue *swap.UndoError
	if errors.As(err, &ue) {
		return "", &RollbackError{Target: ue.Target, Backup: ue.Backup, Err: ue.Err, RestoreErr: ue.RestoreErr}
	}
	if err != nil {
		return "", &TargetError{Path: target, Err: err}
	}
	swap.DisarmBackups(target, c.logf)
	keep := c.Backups
	if keep == 0 {
		keep = 1
	}
	if keep < 0 {
		os.Remove(old) // on Windows this fails while the old binary runs; the next start removes it
		keep, old = 0, ""
	}
	swap.PruneBackups(target, keep)
	failpoint.Hit(ctx, "pruned")
	return old, nil
}

// staleError is an executable rewritten during an install. It matches
// ErrStale.
type staleError struct{ err error }

// Error describes what went wrong and what to do.
func (e *staleError) Error() string {
	return ErrStale.Error() + ": " + e.err.Error() + "; run the command again"
}

// Is reports whether target is the sentinel the error matches.
func (e *staleError) Is(target error) bool { return target == ErrStale }

// Unwrap returns the cause.
func (e *staleError) Unwrap() error { return e.err }
