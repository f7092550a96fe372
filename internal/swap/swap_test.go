package swap

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stagedBinary writes the "new binary" into its directory beside target,
// as an install does, and returns its path.
func stagedBinary(t *testing.T, target, content string) string {
	t.Helper()
	stage, err := NewDir(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(stage) })
	p := filepath.Join(stage, filepath.Base(target))
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeTarget(t *testing.T, dir string, mode os.FileMode) string {
	t.Helper()
	target := filepath.Join(dir, "app")
	if err := os.WriteFile(target, []byte("old binary"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(target, mode); err != nil {
		t.Fatal(err)
	}
	return target
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// onlyEntries fails unless dir holds exactly the names given.
func onlyEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("directory holds %q, want %q", got, names)
	}
}

func TestReplaceThroughSymlink(t *testing.T) {
	dir := t.TempDir()
	real := writeTarget(t, dir, 0o755)
	link := filepath.Join(dir, "link-to-app")
	if err := os.Symlink("app", link); err != nil {
		t.Skip("no symlinks:", err)
	}
	target, err := filepath.EvalSymlinks(link) // as an install resolves it
	if err != nil {
		t.Fatal(err)
	}
	if target != real {
		t.Fatalf("target = %s, want %s", target, real)
	}
	staged := stagedBinary(t, target, "new binary")
	backup, err := Replace(OS(), target, staged)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(backup)
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the symlink was not kept: %v %v", fi, err)
	}
	if readFile(t, link) != "new binary" {
		t.Error("the file behind the link was not replaced")
	}
}

// When the rename fails, the target is the old binary, intact, and no
// backup is left behind.
func TestReplaceRenameFails(t *testing.T) {
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	staged := stagedBinary(t, target, "new binary")
	fsys := OS()
	fsys.Rename = func(oldpath, newpath string) error {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EIO}
	}
	if _, err := Replace(fsys, target, staged); !errors.Is(err, syscall.EIO) {
		t.Fatalf("err = %v, want EIO", err)
	}
	if readFile(t, target) != "old binary" {
		t.Fatal("target changed")
	}
	onlyEntries(t, dir, filepath.Base(filepath.Dir(staged)), "app")
}

// When the rename went through but cannot be made durable, the backup is
// put back.
func TestReplaceRestoresBackup(t *testing.T) {
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	staged := stagedBinary(t, target, "new binary")
	fsys := OS()
	fsys.SyncDir = func(string) error { return syscall.EIO }
	if _, err := Replace(fsys, target, staged); !errors.Is(err, syscall.EIO) {
		t.Fatalf("err = %v, want EIO", err)
	}
	if readFile(t, target) != "old binary" {
		t.Fatal("the backup was not restored")
	}
	onlyEntries(t, dir, filepath.Base(filepath.Dir(staged)), "app")
}

// The Windows sequence, run through the file-system seam: the running
// binary is renamed aside under a unique hidden name, the new one moved in,
// sharing violations retried, and the old one put back on failure.
func TestSwapAside(t *testing.T) {
	transientErr := &os.LinkError{Op: "rename", Err: syscall.EBUSY}
	if !transient(transientErr) {
		t.Skip("no transient rename error on this platform")
	}
	t.Run("retries", func(t *testing.T) {
		dir := t.TempDir()
		target := writeTarget(t, dir, 0o755)
		staged := stagedBinary(t, target, "new binary")
		fsys := OS()
		fails := 3
		var calls []string
		fsys.Sleep = func(time.Duration) {}
		fsys.Rename = func(oldpath, newpath string) error {
			calls = append(calls, filepath.Base(oldpath)+" -> "+filepath.Base(newpath))
			if oldpath == staged && fails > 0 {
				fails--
				return transientErr
			}
			return os.Rename(oldpath, newpath)
		}
		aside, err := swapAside(fsys, target, staged)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(filepath.Base(aside), ".app.selfcompile-backup-") {
			t.Errorf("aside name %q is not hidden and unique", aside)
		}
		if readFile(t, aside) != "old binary" || readFile(t, target) != "new binary" {
			t.Error("wrong contents after the swap")
		}
		if len(calls) != 5 || !strings.HasPrefix(calls[0], "app -> .app.selfcompile-backup-") {
			t.Errorf("rename sequence = %q", calls)
		}
	})
	t.Run("rollback", func(t *testing.T) {
		dir := t.TempDir()
		target := writeTarget(t, dir, 0o755)
		staged := stagedBinary(t, target, "new binary")
		fsys := OS()
		fsys.Sleep = func(time.Duration) {}
		fsys.Rename = func(oldpath, newpath string) error {
			if oldpath == staged {
				return &os.LinkError{Op: "rename", Err: syscall.EACCES}
			}
			return os.Rename(oldpath, newpath)
		}
		if _, err := swapAside(fsys, target, staged); err == nil {
			t.Fatal("swap succeeded")
		}
		if readFile(t, target) != "old binary" {
			t.Fatal("the old binary was not put back")
		}
		onlyEntries(t, dir, filepath.Base(filepath.Dir(staged)), "app")
	})
}

// When the swap fails after the old binary was moved aside and putting it
// back fails too, the error is an *UndoError that says where it is.
func TestRollbackError(t *testing.T) {
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	staged := stagedBinary(t, target, "new binary")
	fsys := OS()
	fsys.Sleep = func(time.Duration) {}
	fsys.Rename = func(oldpath, newpath string) error {
		if oldpath == target {
			return os.Rename(oldpath, newpath) // aside
		}
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EIO}
	}
	_, err := swapAside(fsys, target, staged)
	var ue *UndoError
	if !errors.As(err, &ue) || ue.Target != target {
		t.Fatalf("err = %v, want an *UndoError", err)
	}
	if readFile(t, ue.Backup) != "old binary" {
		t.Fatal("the error does not name where the old binary is")
	}
}

// A swap on macOS does not give the new binary the quarantine attribute
// of a downloaded one: Gatekeeper would refuse its ad-hoc signature.
// Every other attribute, and every attribute elsewhere, is kept.
func TestKeepXattr(t *testing.T) {
	for _, c := range []struct {
		goos, name string
		want       bool
	}{
		{"darwin", "com.apple.quarantine", false},
		{"darwin", "com.apple.provenance", false},
		{"darwin", "com.apple.metadata:kMDItemWhereFroms", true},
		{"linux", "security.capability", true},
		{"linux", "com.apple.quarantine", true},
		{"linux", "user.origin", true},
	} {
		if got := keepXattr(c.goos, c.name); got != c.want {
			t.Errorf("keepXattr(%s, %s) = %v, want %v", c.goos, c.name, got, c.want)
		}
	}
}

// TestLinkOrCopy makes the destination the source's file, or a copy of
// it, over a file already there too; a missing source is an error.
func TestLinkOrCopy(t *testing.T) {
	dir := t.TempDir()
	src := writeTarget(t, dir, 0o755)
	dst := filepath.Join(dir, "dst")
	os.WriteFile(dst, []byte("stale"), 0o644)
	if err := LinkOrCopy(src, dst); err != nil {
		t.Fatal(err)
	}
	if readFile(t, dst) != "old binary" {
		t.Errorf("the destination holds %q", readFile(t, dst))
	}
	if err := LinkOrCopy(filepath.Join(dir, "missing"), filepath.Join(dir, "dst2")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("linking a missing file: %v, want fs.ErrNotExist", err)
	}
}
