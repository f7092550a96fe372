//go:build unix

package testutil

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// AsNobodyEnv marks a test process that RunAsNobody started.
const AsNobodyEnv = "SELFCOMPILE_TEST_AS_NOBODY"

// RunAsNobody runs the calling test again as the user nobody, in a copy of
// the test binary that nobody may run, with env added, and fails the test
// if that run fails. It returns true in the test that started it, which
// should then return, and false in the run as nobody, which should go on.
// Run by a user other than root, it returns false at once: the test's
// body then runs as that user.
func RunAsNobody(t *testing.T, env ...string) bool {
	t.Helper()
	if os.Getenv(AsNobodyEnv) != "" || os.Getuid() != 0 {
		return false
	}
	dir := OpenDir(t, 0o777|os.ModeSticky)
	bin := filepath.Join(dir, "test.bin")
	in, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(out, in)
	out.Close()
	cmd := exec.Command(bin, "-test.run=^"+t.Name()+"$", "-test.v")
	cmd.Env = append(os.Environ(), AsNobodyEnv+"=1", "TMPDIR="+OpenDir(t, 0o777|os.ModeSticky))
	cmd.Env = append(cmd.Env, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	output, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(output), "--- PASS") {
		t.Fatalf("as nobody: %v\n%s", err, output)
	}
	return true
}

// OpenDir returns a new directory with mode, such as 0o777|os.ModeSticky for one that
// every user may write like /tmp, in directories that every user may
// enter.
func OpenDir(t *testing.T, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	for d := filepath.Dir(dir); d != "/" && d != filepath.Dir(os.TempDir()); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dir
}
