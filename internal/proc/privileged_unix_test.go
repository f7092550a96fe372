//go:build unix

package proc

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPrivileged: a process run normally is not privileged; one run from
// a setuid file that raises its privileges is (run as root, a copy of the
// test binary set-user-ID to nobody).
func TestPrivileged(t *testing.T) {
	if os.Getuid() == os.Geteuid() && os.Getgid() == os.Getegid() && Privileged() {
		t.Error("this test process is privileged")
	}
	if os.Getuid() != 0 {
		t.Skip("making a set-user-ID file of another user needs root")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	bin := filepath.Join(dir, "setuid")
	in, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.OpenFile(bin, os.O_WRONLY|os.O_CREATE, 0o755)
	io.Copy(out, in)
	in.Close()
	out.Close()
	plain, err := helper(bin, "privileged").Output()
	if err != nil || !strings.Contains(string(plain), "privileged false") {
		t.Errorf("run normally: %v\n%s", err, plain)
	}
	if err := os.Chown(bin, 65534, -1); err != nil {
		t.Skipf("chown: %v", err)
	}
	if err := os.Chmod(bin, 0o755|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	raised, err := helper(bin, "privileged").Output()
	if err != nil {
		t.Skipf("the set-user-ID copy did not run (a nosuid file system?): %v\n%s", err, raised)
	}
	if strings.Contains(string(raised), "euid 0\n") {
		t.Skip("the set-user-ID bit did not take (a nosuid file system?)")
	}
	if !strings.Contains(string(raised), "privileged true") {
		t.Errorf("run set-user-ID to another user:\n%s", raised)
	}
}
