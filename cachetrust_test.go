//go:build unix

package selfcompile_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// A cache directory that others may write, or that belongs to another
// user, is refused before any work; in a private one, a file restored
// before is not trusted because it is there.
func TestCacheTrust(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	shared := filepath.Join(tempDir(t), "shared")
	os.MkdirAll(shared, 0o777)
	os.Chmod(shared, 0o777)
	sc := installer(t, target)
	sc.CacheDir = shared
	sc.Plugin(aplugin)
	if err := sc.Compile(); !errors.Is(err, selfcompile.ErrUnsafeCache) || !strings.Contains(err.Error(), "writable by no one else") {
		t.Errorf("a 0777 cache: %v", err)
	}
	if os.Getuid() == 0 {
		theirs := filepath.Join(tempDir(t), "theirs")
		os.MkdirAll(theirs, 0o700)
		os.Chown(theirs, 65534, 65534)
		sc.CacheDir = theirs
		if err := sc.Compile(); !errors.Is(err, selfcompile.ErrUnsafeCache) || !strings.Contains(err.Error(), "belongs to uid 65534") {
			t.Errorf("another user's cache: %v", err)
		}
		// A cache that cannot be written says so, before any work.
		ro := filepath.Join(tempDir(t), "ro")
		os.MkdirAll(ro, 0o700)
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "ro,mode=0700", "tmpfs", ro).CombinedOutput(); err == nil {
			defer exec.Command("umount", ro).Run()
			sc.CacheDir = ro
			if err := sc.Compile(); !errors.Is(err, selfcompile.ErrUnsafeCache) || !strings.Contains(err.Error(), "cannot be written") {
				t.Errorf("a read-only cache: %v", err)
			}
		} else {
			t.Logf("no read-only mount here: %v %s", err, out)
		}
	}

	// A module file that is in the private cache before the modules are
	// restored is replaced by the bundle's, not compiled as it is.
	cache := freshCache(t)
	sum := sha256.Sum256([]byte("github.com/shazow/go-selfcompile/example/abinary"))
	flag := filepath.Join(cache, "go-selfcompile", "hosts", fmt.Sprintf("abinary-%x", sum[:4]), "mod", "github.com", "spf13", "pflag@"+required(t, "github.com/spf13/pflag"), "flag.go")
	writeFiles(t, filepath.Dir(flag), map[string]string{"flag.go": "package pflag\n\nfunc init() { println(\"EVIL\") }\n"})
	pluginCmd(t, target, []string{"XDG_CACHE_HOME=" + cache}, "add", aplugin)
	if _, errOut, _ := run(t, target, nil); strings.Contains(errOut, "EVIL") {
		t.Fatal("a module file found in the cache was compiled in")
	}
	if data, _ := os.ReadFile(flag); strings.Contains(string(data), "EVIL") {
		t.Fatal("the planted file is still in the cache")
	}
}
