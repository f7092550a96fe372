package selfcompile_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// TestCanceledDuringBuild sends SIGINT, SIGTERM, SIGHUP (a closed SSH
// session) and SIGQUIT to an installer while the go command compiles: each
// install ends with an error that says nothing changed, exit code 130, the
// binary unchanged, no workdir, new binary's directory or go-build
// directory left behind, and no process of the install still running. The plugin has a package that
// takes seconds to compile, so the signal lands while the go command works:
// the test checks that its go-build directory exists when it sends it.
func TestCanceledDuringBuild(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	slow := filepath.Join(tempDir(t), "slowbuild")
	var big strings.Builder
	big.WriteString("package slowbuild\n\nimport _ \"example.com/slowbuild/first\"\n\nvar table = map[string]int{\n")
	for i := range 60000 {
		big.WriteString("\t\"k" + strings.Repeat("x", i%7) + itoa(i) + "\": " + itoa(i) + ",\n")
	}
	big.WriteString("}\n\nfunc init() { _ = table }\n")
	writeFiles(t, slow, map[string]string{
		"go.mod":         "module example.com/slowbuild\n\ngo 1.26\n",
		"slow.go":        big.String(),
		"first/first.go": "package first\n",
	})
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT} {
		t.Run(sig.String(), func(t *testing.T) {
			target := failpointCopy(t)
			unchangedBin := unchanged(t, target)
			cache := filepath.Join(tempDir(t), "cache")
			copyTree(t, e2e.seed, cache) // a cache of its own, to search for leftovers
			r := start(t, target, []string{"XDG_CACHE_HOME=" + cache, "GO_SELFCOMPILE_FAILPOINT=compiled.1:pause"}, "plugin", "add", slow)
			r.waitFor(t, "selfcompile: failpoint compiled.1 pause")
			work := filepath.Join(cache, "go-selfcompile", "work")
			if builds := goBuildDirs(work); len(builds) == 0 {
				t.Fatalf("no go-build directory while the go command compiles: the signal would not test anything")
			}
			r.cmd.Process.Signal(sig)
			err := r.wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("exit: %v, want code 130", err)
			}
			if !strings.Contains(r.stderr.String(), "install canceled during build") || !strings.Contains(r.stderr.String(), "nothing was changed") {
				t.Errorf("stderr does not say the install was canceled and changed nothing:\n%s", r.stderr.String())
			}
			unchangedBin()
			onlyBeside(t, target, 0)
			if left := goBuildDirs(cache); len(left) > 0 {
				t.Errorf("go-build directories left: %q", left)
			}
			if entries, _ := os.ReadDir(work); len(entries) > 0 {
				t.Errorf("left in the work directory: %v", entries)
			}
			if left := processesUsing(cache); len(left) > 0 {
				t.Errorf("processes of the install still run: %q", left)
			}
		})
	}
}

// processesUsing returns the command lines of the processes that name dir
// in their arguments or environment, after waiting a moment for those
// just killed to go.
func processesUsing(dir string) []string {
	var found []string
	for range 20 {
		found = nil
		procs, _ := filepath.Glob("/proc/[0-9]*")
		for _, p := range procs {
			for _, f := range []string{"cmdline", "environ"} {
				if data, err := os.ReadFile(filepath.Join(p, f)); err == nil && strings.Contains(string(data), dir) {
					cmdline, _ := os.ReadFile(filepath.Join(p, "cmdline"))
					found = append(found, strings.ReplaceAll(string(cmdline), "\x00", " "))
					break
				}
			}
		}
		if len(found) == 0 {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return found
}

func itoa(i int) string { return strconv.Itoa(i) }

// goBuildDirs returns the go command's temporary directories under dir.
func goBuildDirs(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "go-build") {
			out = append(out, p)
			return filepath.SkipDir
		}
		return nil
	})
	return out
}

// copyTree copies a directory tree, modes included.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v\n%s", err, out)
	}
}

// TestCompileCanceled: a context canceled before the install replaces
// the binary stops it with an error that matches ErrCanceled and the
// context's error, and the binary is as it was.
func TestCompileCanceled(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	unchangedBin := unchanged(t, target)
	sc := installer(t, target)
	sc.Plugin(aplugin)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sc.CompileContext(ctx)
	if !errors.Is(err, selfcompile.ErrCanceled) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v, want ErrCanceled and context.Canceled", err)
	}
	unchangedBin()
}
