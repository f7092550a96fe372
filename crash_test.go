package selfcompile_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/shazow/go-selfcompile/inspect"
)

// crashPoints are the failpoints an install passes through, in order,
// when it adds a local plugin with its source, modules and toolchain
// missing from the cache: each names a place in the code (see failpoint.go).
// "restore-PART.N" is the N-th file of a part restored: for the modules,
// every 100th of the example's (modules files, about 620); for the
// toolchain (toolchain files, about 2,240), its middle and its last 25.
func crashPoints(modules, toolchain int) []string {
	points := []string{"begin", "locked", "opened", "workdir", "restore-source", "restore-source.25", "restore-source.50", "restore-modules"}
	for n := 25; n <= modules; n += 100 {
		points = append(points, fmt.Sprintf("restore-modules.%d", n))
	}
	// A restore's points are at every 25th file.
	points = append(points, "restore-toolchain", fmt.Sprintf("restore-toolchain.%d", toolchain/2/25*25), fmt.Sprintf("restore-toolchain.%d", toolchain/25*25))
	return append(points,
		"restored", "plugins-restored", "required", "listed", "planned",
		"plugins-bundle", "stub", "build", "compiled.1", "built", "verify",
		"swap-staged", "swap-linked", "swap-renamed", "swap-synced", "pruned")
}

// TestCrashConsistency kills the installer with SIGKILL at each failpoint
// of an install, from taking the lock to pruning backups. Each kill is
// proved to have landed where it aimed: the installer said so and died of
// SIGKILL. After each, the executable is a complete binary, the old or
// the new one, and runs; and the next install removes what the killed ones
// left, beside the binary and in the cache.
func TestCrashConsistency(t *testing.T) {
	setupE2E(t)
	t.Parallel() // its own binaries, and caches that installs share safely: it runs beside the others
	root := tempDir(t)
	plug := filepath.Join(root, "crashplug")
	writePlugin(t, plug, "example.com/crashplug", "crashplug activated.")
	oldOut, newOut := "Just doing binary things\n", "crashplug activated.\nJust doing binary things\n"
	cache := filepath.Join(root, "cache")
	copyTree(t, e2e.seed, cache)
	toolchains := filepath.Join(cache, "go-selfcompile", "toolchains")
	target := filepath.Join(root, "bin", "example-abinary")
	runs := 0
	install := func(point string) *installRun {
		copyBinary(t, failpointHost(t), target)
		// Restore points are reached only when the cache lacks the part.
		switch {
		case strings.HasPrefix(point, "restore-toolchain"):
			removeAll(toolchains)
		case strings.HasPrefix(point, "restore-source"):
			srcs, _ := filepath.Glob(filepath.Join(cache, "go-selfcompile", "hosts", "*", "src-*"))
			for _, s := range srcs {
				removeAll(s)
			}
		case strings.HasPrefix(point, "restore-modules"):
			markers, _ := filepath.Glob(filepath.Join(cache, "go-selfcompile", "hosts", "*", "mod", ".selfcompile-modules-*"))
			for _, m := range markers {
				os.Remove(m)
			}
		}
		// A comment that differs in each run makes the go command compile
		// the plugin again, which reaches the build's points; the binary
		// is the same.
		runs++
		writeFiles(t, plug, map[string]string{"comment.go": fmt.Sprintf("package crashplug\n\n// run %d\n", runs)})
		env := []string{"XDG_CACHE_HOME=" + cache}
		if point != "" {
			env = append(env, "GO_SELFCOMPILE_FAILPOINT="+point)
		}
		return start(t, target, env, "--plugin", plug)
	}
	if r := install(""); r.wait() != nil {
		t.Fatalf("install: %v\n%s", r.err, r.stderr.String())
	}
	oldHash := fileHash(t, failpointHost(t))

	// The new binary is in place from the rename on: before it, a kill
	// must leave the old binary byte for byte; from it, the new one, whole.
	carried, err := inspect.ReadFile(e2e.abinary)
	if err != nil {
		t.Fatal(err)
	}
	modules, toolchain := 0, 0
	for _, p := range carried.Parts {
		switch {
		case p.Bundle == "shared" && p.Name == "modules":
			modules = p.Files
		case p.Bundle == "toolchain":
			toolchain += p.Files
		}
	}
	points := crashPoints(modules, toolchain)
	renamed := slices.Index(points, "swap-renamed")
	for i, point := range points {
		r := install(point)
		err := r.wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("%s: the installer was not killed: %v\n%s", point, err, r.stderr.String())
		}
		if !strings.Contains(r.stderr.String(), "selfcompile: failpoint "+point+" kill\n") {
			t.Fatalf("%s: the installer died elsewhere:\n%s", point, r.stderr.String())
		}
		want := oldOut
		if i >= renamed {
			want = newOut
			if b, err := inspect.ReadFile(target); err != nil || len(b.Plugins) != 1 {
				t.Fatalf("kill at %s: the new binary is not whole: %v", point, err)
			}
		} else if fileHash(t, target) != oldHash {
			t.Fatalf("kill at %s, before the swap, changed the binary", point)
		}
		if out, _, err := run(t, target, nil); err != nil || out != want {
			t.Fatalf("kill at %s: the binary runs with %q (%v), want %q", point, out, err, want)
		}
	}
	t.Logf("%d kills, each where it aimed", len(points))

	// The next install cleans up what the killed ones left.
	if r := install(""); r.wait() != nil {
		t.Fatalf("install after the kills: %v\n%s", r.err, r.stderr.String())
	}
	if out := mustRun(t, target); out != newOut {
		t.Errorf("after the install that followed the kills: %q", out)
	}
	entries, _ := os.ReadDir(filepath.Dir(target))
	for _, e := range entries {
		if e.Name() != "example-abinary" && e.Name() != ".example-abinary.selfcompile.lock" && !strings.HasPrefix(e.Name(), ".example-abinary.selfcompile-backup-") {
			t.Errorf("left beside the binary after the next install: %s", e.Name())
		}
	}
	for _, pattern := range []string{"toolchains/.tmp-*", "work/*", "hosts/*/.tmp-*", "hosts/*/mod/.tmp-*", "build/.tmp-*"} {
		if m, _ := filepath.Glob(filepath.Join(cache, "go-selfcompile", pattern)); len(m) > 0 {
			t.Errorf("left in the cache after the next install: %q", m)
		}
	}
	if left := goBuildDirs(cache); len(left) > 0 {
		t.Errorf("go-build directories left: %q", left)
	}
}
