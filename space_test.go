//go:build linux

package selfcompile_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a file system of the given size (as "64m") on a new
// directory, for the test: a disk that can be full.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := tempDir(t)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small file system here (needs root): %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file into dir until its file system is full.
func fill(t *testing.T, dir string) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			return
		}
	}
}

// An install checks, before it writes anything, that each disk has the
// room it needs, and names the disk that lacks it; a disk that fills up
// during the install is reported as full, not as a failed build of the
// plugin. The binary is unchanged each time.
func TestNoSpace(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	t.Run("cache", func(t *testing.T) {
		cache := mountTmpfs(t, "64m")
		target := installedCopy(t)
		unchangedBin := unchanged(t, target)
		_, errOut, err := run(t, target, []string{"XDG_CACHE_HOME=" + cache}, "plugin", "add", aplugin)
		if err == nil || !strings.Contains(errOut, "not enough disk space in "+filepath.Join(cache, "go-selfcompile")) {
			t.Fatalf("install with a small cache disk: %v\n%s", err, errOut)
		}
		unchangedBin()
		if used := dirBytes(cache); used > 1<<20 {
			t.Errorf("the refused install wrote %d bytes into the cache", used)
		}
	})
	t.Run("executable", func(t *testing.T) {
		disk := mountTmpfs(t, "48m") // the binary fits, a new one beside it does not
		target := filepath.Join(disk, "example-abinary")
		copyBinary(t, e2e.abinary, target)
		unchangedBin := unchanged(t, target)
		_, errOut, err := run(t, target, nil, "plugin", "add", aplugin)
		if err == nil || !strings.Contains(errOut, "not enough disk space in "+disk) {
			t.Fatalf("install beside a binary on a full disk: %v\n%s", err, errOut)
		}
		unchangedBin()
	})
	t.Run("fills up", func(t *testing.T) {
		disk := mountTmpfs(t, "1g")
		cache := filepath.Join(disk, "cache")
		copyTree(t, e2e.seed, cache)
		target := failpointCopy(t)
		unchangedBin := unchanged(t, target)
		r := start(t, target, []string{"XDG_CACHE_HOME=" + cache, "GO_SELFCOMPILE_FAILPOINT=stub:pause"}, "plugin", "add", aplugin)
		r.waitFor(t, "selfcompile: failpoint stub pause")
		fill(t, disk) // as another program filling the disk would, between the check and the build
		r.resume()
		err := r.wait()
		if err == nil || !strings.Contains(r.stderr.String(), "the disk of "+filepath.Join(cache, "go-selfcompile")+" is full") || strings.Contains(r.stderr.String(), "build failed for plugin") {
			t.Fatalf("install on a disk that filled up: %v\n%s", err, r.stderr.String())
		}
		unchangedBin()
		onlyBeside(t, target, 0)
	})
}
