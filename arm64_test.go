package selfcompile_test

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestArm64UnderQemu is run by make test-arm64, which installs Debian's
// qemu-user-static where it is missing and registers it with binfmt_misc,
// so that linux/arm64 programs, and the programs they start, run here.
// The example is generated on this machine for linux/arm64 with
// --warm-cache, whose build cache entries are made by cross-compiling, and
// cross-built. The arm64 binary then installs a plugin with the arm64
// toolchain it carries, on a fresh cache: the warm cache entries are hits,
// so it compiles only the plugin, the bundle package and main.
func TestArm64UnderQemu(t *testing.T) {
	if entry, err := os.ReadFile("/proc/sys/fs/binfmt_misc/qemu-aarch64"); err != nil || !strings.HasPrefix(string(entry), "enabled") || runtime.GOARCH == "arm64" {
		t.Skip("linux/arm64 programs do not run here through qemu (make test-arm64 sets that up)")
	}
	setupE2E(t)
	repo := filepath.Join(tempDir(t), "repo")
	if err := copyRepo(e2e.repo, repo); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := command(filepath.Join(repo, "example", "abinary"), nil, e2e.gen, "--targets", "linux/arm64", "--warm-cache", "--level", "fastest", "-q"); err != nil {
		t.Fatalf("generating: %v\n%s", err, out)
	}
	t.Logf("generation for linux/arm64 with --warm-cache: %v", time.Since(start).Round(time.Second))
	bin := filepath.Join(tempDir(t), "bin", "example-abinary")
	if out, err := command(repo, []string{"GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0"}, "go", "build", "-trimpath", "-o", bin, "./example/abinary"); err != nil {
		t.Fatalf("cross-building: %v\n%s", err, out)
	}
	start = time.Now()
	cache := filepath.Join(tempDir(t), "cache")
	out, errOut, err := run(t, bin, []string{"XDG_CACHE_HOME=" + cache, "GO_SELFCOMPILE_PROGRESS=1"}, "plugin", "add", aplugin)
	if err != nil {
		t.Fatalf("install under qemu: %v\n%s%s", err, out, errOut)
	}
	t.Logf("first install under qemu, fresh cache, warm cache entries: %v", time.Since(start).Round(time.Second))
	compiled := regexp.MustCompile(`build: compiled (\S+),`).FindAllStringSubmatch(errOut, -1)
	for _, m := range compiled {
		if p := m[1]; p != aplugin && !strings.HasPrefix(p, "github.com/shazow/go-selfcompile/example/abinary") {
			t.Errorf("compiled %s, which the warm cache should have held", p)
		}
	}
	if len(compiled) == 0 {
		t.Errorf("nothing compiled:\n%s", errOut)
	}
	if got := mustRun(t, bin); got != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the install: %q", got)
	}
}
