//go:build unix

package selfcompile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Rollback puts back only a complete build of the same program from the
// same bundles, of the executable's owner and writable by no more users
// than the executable, and says why it refuses one; it runs none that it
// refuses.
func TestRollbackChecksBackup(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	os.Chmod(target, 0o775) // as under a umask of 002: its backups are group-writable too
	pluginCmd(t, target, nil, "add", aplugin)
	backups, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".example-abinary.selfcompile-backup-*"))
	if len(backups) != 1 {
		t.Fatalf("backups: %q", backups)
	}
	backup := backups[0]
	good, _ := os.ReadFile(backup)
	marker := filepath.Join(tempDir(t), "script-ran")
	v2 := secondBuild(t)
	for _, c := range []struct {
		name    string
		content func() []byte
		says    string
	}{
		{"a shell script", func() []byte { return []byte("#!/bin/sh\ntouch " + marker + "\necho selfcompile-probe\n") }, "damaged or truncated"},
		{"truncated", func() []byte { return good[:len(good)*3/4] }, "damaged or truncated"},
		{"another program", func() []byte { b, _ := os.ReadFile(e2e.gen); return b }, "not a self-compiling build"},
		{"another build", func() []byte { b, _ := os.ReadFile(v2); return b }, "rolling back would downgrade it"},
		{"writable by others", func() []byte { os.Chmod(backup, 0o777); return good }, "not one an install kept"},
		{"another user's", func() []byte { os.Chown(backup, 65534, 65534); return good }, "not one an install kept"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "another user's" && os.Getuid() != 0 {
				t.Skip("needs root to give the backup to another user")
			}
			os.Remove(backup)
			os.WriteFile(backup, nil, 0o755)
			os.WriteFile(backup, c.content(), 0o755)
			unchangedBin := unchanged(t, target)
			out, errOut, err := run(t, target, nil, "plugin", "rollback")
			if err == nil || !strings.Contains(errOut, c.says) {
				t.Fatalf("rollback to %s: %v\n%s%s", c.name, err, out, errOut)
			}
			unchangedBin()
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the backup was run")
			}
		})
	}
	os.Remove(backup)
	os.WriteFile(backup, good, 0o755)
	os.Chmod(backup, 0o775) // as writable as the executable, as an install under a umask of 002 keeps it
	pluginCmd(t, target, nil, "rollback")
	if out := mustRun(t, target); out != "Just doing binary things\n" {
		t.Fatalf("after the rollback: %q", out)
	}
}
