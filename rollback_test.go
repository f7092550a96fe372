//go:build unix

package selfcompile_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// Rollback puts back only a complete build of the same program from the
// same bundles, of the executable's owner and writable by no more users
// than the executable, and says why it refuses one; it runs none that it
// refuses.
func TestRollbackChecksBackup(t *testing.T) {
	setupE2E(t)
	t.Parallel()
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

// rollback --dry-run says which backup it would put back and what that
// changes, and changes nothing; --json prints that plan as JSON.
func TestRollbackDryRun(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	pluginCmd(t, target, nil, "add", aplugin)
	unchangedBin := unchanged(t, target)
	backups, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".example-abinary.selfcompile-backup-*"))
	dry := pluginCmd(t, target, nil, "rollback", "--dry-run")
	if len(backups) != 1 || !strings.Contains(dry, "remove   "+aplugin) || !strings.Contains(dry, "put back "+backups[0]) || !strings.Contains(dry, "Dry run: nothing changed.") {
		t.Errorf("rollback --dry-run (backups %q):\n%s", backups, dry)
	}
	var plan selfcompile.Plan
	out := pluginCmd(t, target, nil, "rollback", "--dry-run", "--json")
	if err := json.Unmarshal([]byte(strings.TrimPrefix(out, "aplugin activated.\n")), &plan); err != nil || plan.Backup != backups[0] || len(plan.Removed) != 1 {
		t.Errorf("rollback --dry-run --json: %v\n%s", err, out)
	}
	unchangedBin()
	onlyBeside(t, target, 1)
}

// Rollback works while processes run the previous binary and the current
// one, as a service that was not reloaded yet runs the previous one: the
// backup is never opened for writing (ETXTBSY).
func TestRollbackWhileBackupRuns(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := failpointCopy(t)
	pluginCmd(t, target, nil, "add", aplugin)
	backups, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".example-abinary.selfcompile-backup-*"))
	if len(backups) != 1 {
		t.Fatalf("backups: %q", backups)
	}
	// The previous binary and the current one, each running, paused.
	old := start(t, backups[0], []string{"GO_SELFCOMPILE_FAILPOINT=begin:pause"}, "plugin", "add", "--dry-run", aplugin)
	old.waitFor(t, "selfcompile: failpoint begin pause")
	cur := start(t, target, []string{"GO_SELFCOMPILE_FAILPOINT=begin:pause"}, "plugin", "add", "--dry-run", aplugin)
	cur.waitFor(t, "selfcompile: failpoint begin pause")
	defer old.resume()
	defer cur.resume()
	pluginCmd(t, target, nil, "rollback")
	if out := mustRun(t, target); out != "Just doing binary things\n" {
		t.Fatalf("after the rollback: %q", out)
	}
}

// A plugin whose init breaks every start but the probe's (it tells the
// probe from a real start) passes verification; the binary then no
// longer starts, so none of its commands can repair it. Its backup can:
// run as itself, it puts itself back, as the install said it would.
func TestRepairWithBackup(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	brick := plugin(t, map[string]string{"go.mod": "module example.com/brick\n\ngo 1.26\n",
		"p.go": "package brick\n\nimport \"os\"\n\nfunc init() {\n\tif os.Getenv(\"GO_SELFCOMPILE_PROBE\") == \"\" {\n\t\tpanic(\"bricked\")\n\t}\n}\n"})
	_, errOut, err := run(t, target, nil, "plugin", "add", brick)
	if err != nil {
		t.Fatalf("install: %v\n%s", err, errOut)
	}
	if _, errOut, err := run(t, target, nil, "plugin", "list"); err == nil || !strings.Contains(errOut, "bricked") {
		t.Fatalf("the bricked binary started: %v\n%s", err, errOut)
	}
	const says = "if example-abinary no longer starts, run: "
	i := strings.Index(errOut, says)
	if i < 0 {
		t.Fatalf("the install does not say how to repair the binary:\n%s", errOut)
	}
	repair := strings.Fields(errOut[i+len(says):])
	if len(repair) < 3 || repair[1] != "plugin" || repair[2] != "rollback" {
		t.Fatalf("repair command: %q", repair)
	}
	if out, errOut, err := run(t, repair[0], nil, "plugin", "rollback"); err != nil {
		t.Fatalf("%s plugin rollback: %v\n%s%s", repair[0], err, out, errOut)
	}
	if out := mustRun(t, target); out != "Just doing binary things\n" {
		t.Fatalf("after the repair: %q", out)
	}
	onlyBeside(t, target, 1) // the bricked binary, kept as the backup
}
