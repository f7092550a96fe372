//go:build unix

package swap

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

// TestDisarmBackupsRemoves: a backup whose setuid bit this user cannot
// take (another user's file: root's, with the test run again as nobody)
// is removed, and says so.
func TestDisarmBackupsRemoves(t *testing.T) {
	const dirEnv = "SWAP_TEST_BACKUP_DIR"
	if os.Getenv(dirEnv) == "" {
		if os.Getuid() != 0 {
			t.Skip("making another user's setuid backup needs root")
		}
		dir := testutil.OpenDir(t, 0o777) // nobody may remove files here
		target := filepath.Join(dir, "app")
		os.WriteFile(target, []byte("binary"), 0o755)
		os.Chown(target, 65534, 65534)
		b := makeBackups(t, target, 1, 0o755|fs.ModeSetuid)[0]
		if testutil.RunAsNobody(t, dirEnv+"="+dir) {
			if fsutil.Exists(b) {
				t.Error("the backup that kept its setuid bit is still there")
			}
			return
		}
	}
	target := filepath.Join(os.Getenv(dirEnv), "app")
	bs := Backups(target)
	if len(bs) != 1 {
		t.Fatalf("backups %q", bs)
	}
	var logged []string
	DisarmBackups(target, func(format string, args ...any) { logged = append(logged, format) })
	if fsutil.Exists(bs[0]) {
		t.Error("the backup that kept its setuid bit is still there")
	}
	if len(logged) != 1 {
		t.Errorf("logged %q, want one message", logged)
	}
}
