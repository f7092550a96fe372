//go:build unix

package selfcompile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/testutil"
)

// A host made setuid root and run by another user ignores the
// environment variables that steer the library, and refuses to install:
// that user may not write the binary.
func TestSetuidHost(t *testing.T) {
	if os.Getenv(testutil.AsNobodyEnv) == "" {
		if os.Getuid() != 0 {
			t.Skip("needs root to make a setuid-root binary, then runs as nobody")
		}
		setupE2E(t)
		bin := filepath.Join(testutil.OpenDir(t, 0o755), "example-abinary")
		copyBinary(t, failpointHost(t), bin) // the failpoint it is given must be there to ignore
		os.Chmod(bin, 0o755|os.ModeSetuid)
		testutil.RunAsNobody(t, "SETUID_HOST="+bin, "XDG_CACHE_HOME="+testutil.OpenDir(t, 0o777|os.ModeSticky))
		return
	}
	bin := os.Getenv("SETUID_HOST")
	unchangedBin := unchanged(t, bin)
	answer := filepath.Join(os.Getenv("XDG_CACHE_HOME"), "answer")
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "GO_SELFCOMPILE_PROBE=nonce "+answer)
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "Just doing binary things\n" {
		t.Errorf("run with the probe variable: %v %q", err, out)
	}
	if _, err := os.Stat(answer); err == nil {
		t.Error("the setuid binary answered a probe, creating a file as root")
	}
	cmd = exec.Command(bin, "plugin", "add", aplugin)
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GO_SELFCOMPILE_FAILPOINT=begin")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "privileges from its file") || strings.Contains(string(out), "failpoint") {
		t.Errorf("install through a setuid binary: %v\n%s", err, out)
	}
	unchangedBin()
}

// An executable made setuid and given a capability with setcap keeps both
// through an install and a rollback run by root; the backup beside it
// keeps neither, so that no old build stays privileged.
func TestSetcapHostKeepsCapability(t *testing.T) {
	setupE2E(t)
	if os.Getuid() != 0 {
		t.Skip("needs root to set and keep file capabilities")
	}
	bin := installedCopy(t)
	if out, err := exec.Command("setcap", "cap_net_bind_service=ep", bin).CombinedOutput(); err != nil {
		t.Skipf("setcap: %v %s", err, out)
	}
	os.Chmod(bin, 0o755|os.ModeSetuid)
	setuid := func(p string) bool {
		fi, err := os.Stat(p)
		return err == nil && fi.Mode()&os.ModeSetuid != 0
	}
	capable := func(p string) bool {
		out, _ := exec.Command("getcap", p).CombinedOutput()
		return strings.Contains(string(out), "cap_net_bind_service")
	}
	privileged := func(p string) bool { return setuid(p) && capable(p) }
	unprivileged := func(p string) bool { return !setuid(p) && !capable(p) }
	backups := func() []string {
		b, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), ".example-abinary.selfcompile-backup-*"))
		return b
	}
	pluginCmd(t, bin, nil, "add", aplugin)
	if !privileged(bin) {
		t.Fatal("the installed binary lost its setuid bit or capability")
	}
	if out := mustRun(t, bin); out != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the install: %q", out)
	}
	if b := backups(); len(b) != 1 || !unprivileged(b[0]) || fileMode(t, b[0]) != "-rwxr-xr-x" {
		t.Fatalf("the backup %q kept its privileges, or is not there", b)
	}
	pluginCmd(t, bin, nil, "rollback")
	if !privileged(bin) || mustRun(t, bin) != "Just doing binary things\n" {
		t.Fatal("the rolled back binary lost its setuid bit or capability")
	}
	if b := backups(); len(b) != 1 || !unprivileged(b[0]) {
		t.Fatalf("the backup %q kept its privileges", b)
	}
	// A privileged backup that a killed install left is disarmed by the
	// next install, before pruning removes its name: a hard link elsewhere,
	// the same file, shows it.
	b := backups()[0]
	exec.Command("setcap", "cap_net_bind_service=ep", b).Run()
	os.Chmod(b, 0o755|os.ModeSetuid)
	same := filepath.Join(tempDir(t), "same-file")
	if err := os.Link(b, same); err != nil {
		t.Fatal(err)
	}
	if !privileged(same) {
		t.Fatal("the planted privileged backup is not privileged")
	}
	pluginCmd(t, bin, nil, "add", aplugin)
	if !unprivileged(same) {
		t.Error("the backup a killed install left kept its privileges")
	}
	for _, b := range backups() {
		if !unprivileged(b) {
			t.Errorf("the backup %s kept its privileges", b)
		}
	}
}

func fileMode(t *testing.T, p string) string {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().String()
}
