package swap

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// makeBackups writes n backups of target, oldest first, with mode perm,
// and returns their paths in that order.
func makeBackups(t *testing.T, target string, n int, perm fs.FileMode) []string {
	t.Helper()
	var bs []string
	for len(bs) < n {
		b := backupName(target)
		if len(bs) > 0 && b <= bs[len(bs)-1] {
			continue // the clock did not move: not a later name
		}
		if err := os.WriteFile(b, []byte("old build"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(b, perm); err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	return bs
}

// TestBackups lists the backups of a target, newest first, and no other
// file: not the target, nor the backups of another executable in the
// directory, even with a name that is a glob pattern.
func TestBackups(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "app[1]")
	os.WriteFile(target, []byte("binary"), 0o755)
	bs := makeBackups(t, target, 3, 0o755)
	makeBackups(t, filepath.Join(dir, "app1"), 1, 0o755)
	makeBackups(t, filepath.Join(dir, "app"), 1, 0o755)
	slices.Reverse(bs)
	if got := Backups(target); !slices.Equal(got, bs) {
		t.Errorf("Backups = %q, want %q", got, bs)
	}
	if got := Backups(filepath.Join(dir, "none")); len(got) != 0 {
		t.Errorf("Backups of an executable without any = %q", got)
	}
}

// TestTargetOf names the executable a backup backs up, and nothing for a
// file not named as a backup.
func TestTargetOf(t *testing.T) {
	dir := t.TempDir()
	for _, target := range []string{filepath.Join(dir, "app"), filepath.Join(dir, "my.app-v2")} {
		if got, ok := TargetOf(backupName(target)); !ok || got != target {
			t.Errorf("TargetOf(a backup of %s) = %q, %v", target, got, ok)
		}
	}
	for _, name := range []string{
		"app",
		sideName("app", newTag),
		sideName("app", backupTag), // the random part of other side files is not a backup's
		".app.selfcompile-backup-123-abcdef01",
		".app.selfcompile-backup-00000000000000000001-ABCDEF01",
		"..selfcompile-backup-00000000000000000001-abcdef01x",
	} {
		if got, ok := TargetOf(filepath.Join(dir, name)); ok {
			t.Errorf("TargetOf(%q) = %q, true", name, got)
		}
	}
}

// TestPruneBackups keeps the newest backups, as many as asked, and leaves
// the target.
func TestPruneBackups(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "app")
	os.WriteFile(target, []byte("binary"), 0o755)
	bs := makeBackups(t, target, 3, 0o755)
	PruneBackups(target, 5)
	if got := Backups(target); len(got) != 3 {
		t.Errorf("keeping 5 of 3 left %q", got)
	}
	PruneBackups(target, 1)
	if got := Backups(target); !slices.Equal(got, bs[2:]) {
		t.Errorf("keeping 1 left %q, want the newest %q", got, bs[2:])
	}
	PruneBackups(target, 0)
	if got := Backups(target); len(got) != 0 {
		t.Errorf("keeping none left %q", got)
	}
	onlyEntries(t, dir, "app")
}

// TestRemoveLeftovers removes the directories of new binaries (as this
// version and earlier ones named them) and the check files that a killed
// install left beside the target; the target, its backups and another
// executable's files stay.
func TestRemoveLeftovers(t *testing.T) {
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755)
	stagedBinary(t, target, "new binary") // in a directory NewDir made
	old := sideName(target, oldNewTag)
	os.MkdirAll(filepath.Join(old, "sub"), 0o755)
	check, _ := os.CreateTemp(dir, sidePrefix(target, checkTag))
	check.Close()
	bs := makeBackups(t, target, 1, 0o755)
	other, err := NewDir(filepath.Join(dir, "other"))
	if err != nil {
		t.Fatal(err)
	}
	RemoveLeftovers(target)
	onlyEntries(t, dir, filepath.Base(bs[0]), filepath.Base(other), "app")
}

// TestDisarmBackups takes the setuid and setgid bits from the backups of
// a target, keeping their permissions; a backup that is the target's own
// file keeps them, as the target does.
func TestDisarmBackups(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no setuid bits on Windows")
	}
	dir := t.TempDir()
	target := writeTarget(t, dir, 0o755|fs.ModeSetuid)
	bs := append(makeBackups(t, target, 1, 0o755|fs.ModeSetuid), makeBackups(t, target, 1, 0o750|fs.ModeSetgid)...)
	bs = append(bs, makeBackups(t, target, 1, 0o700)...)
	own := backupName(target)
	if err := os.Link(target, own); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	var logged []string
	DisarmBackups(target, func(format string, args ...any) { logged = append(logged, format) })
	for i, want := range []fs.FileMode{0o755, 0o750, 0o700} {
		fi, err := os.Stat(bs[i])
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		if fi.Mode() != want {
			t.Errorf("backup %d has mode %v, want %v", i, fi.Mode(), want)
		}
	}
	for _, p := range []string{own, target} {
		if fi, _ := os.Stat(p); fi.Mode()&fs.ModeSetuid == 0 {
			t.Errorf("%s lost its setuid bit", p)
		}
	}
	if len(logged) != 0 {
		t.Errorf("logged %q", logged)
	}
}
