package selfcompile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// lockTarget takes the install lock of target: an exclusive lock on the
// file ".<base>.selfcompile.lock" beside it (flock on Unix, LockFileEx on
// Windows), so that one installer at a time replaces a given executable,
// across processes. The operating system drops the lock when its holder
// dies. With wait, it polls until the lock is free or ctx ends, saying once
// that it waits; without, it fails at once with ErrLocked.
func lockTarget(ctx context.Context, target string, wait bool, logf func(string, ...any)) (release func(), err error) {
	name := filepath.Join(filepath.Dir(target), "."+filepath.Base(target)+".selfcompile.lock")
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &TargetError{Path: target, Err: err}
	}
	said := false
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("selfcompile: locking %s: %w", name, err)
		}
		if ok {
			return func() { unlock(f); f.Close() }, nil
		}
		if !wait {
			f.Close()
			return nil, fmt.Errorf("%w on %s (the lock is %s)", ErrLocked, target, name)
		}
		if !said {
			logf("Waiting for another install of %s to finish", target)
			said = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("selfcompile: waiting for the install lock on %s: %w", target, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}
