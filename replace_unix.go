//go:build !windows

package selfcompile

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// swap renames the new binary over the running one; Unix allows it.
var swap = swapLinked

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// matchOwner gives name the owner and group of fi where this process may,
// so that a root-run install keeps a binary owned by its user.
func matchOwner(name string, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		os.Lchown(name, int(st.Uid), int(st.Gid))
	}
}

// transient reports whether a failed rename is worth retrying.
func transient(err error) bool { return errors.Is(err, syscall.EBUSY) }

// removeAsides does nothing on Unix, where the old binary is not renamed
// aside while it runs.
func removeAsides() {}
