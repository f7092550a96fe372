//go:build !windows

package selfcompile_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestUnwritableDirectory installs into a binary whose directory the user
// may not write: a typed error saying what to do, before any work.
func TestUnwritableDirectory(t *testing.T) {
	setupE2E(t)
	root := filepath.Join(e2e.work, "unwritable")
	os.MkdirAll(root, 0o755)
	os.Chmod(e2e.work, 0o755)
	target := filepath.Join(root, "bin", "example-abinary")
	copyBinary(t, e2e.abinary, target)
	before := fileHash(t, target)
	cmd := exec.Command(target, "--plugin", "github.com/shazow/go-selfcompile/example/aplugin")
	cmd.Env = append(os.Environ(), "GOPROXY=off", "XDG_CACHE_HOME="+filepath.Join(root, "cache"))
	if os.Getuid() == 0 {
		// Root writes anywhere: run the installer as nobody.
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	} else {
		os.Chmod(filepath.Dir(target), 0o555)
		defer os.Chmod(filepath.Dir(target), 0o755)
	}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("install into an unwritable directory succeeded:\n%s", out)
	}
	for _, want := range []string{"cannot replace " + target, "permission denied", "rerun as a user who may write to its directory"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("error does not say %q:\n%s", want, out)
		}
	}
	if fileHash(t, target) != before {
		t.Fatal("the binary changed")
	}
	if strings.Contains(string(out), "Initializing workdir") {
		t.Error("work started before the precondition was checked")
	}
}
