//go:build unix

package selfcompile_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// An install into a cache that TrimCache or PurgeCache holds (here, the
// test holds its lock as they do) waits and says so, changes nothing
// meanwhile, and goes on once the lock is free.
func TestInstallWaitsForTrim(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	target := installedCopy(t)
	unchangedBin := unchanged(t, target)
	cache := freshCache(t)
	f, err := os.OpenFile(filepath.Join(cache, "go-selfcompile", ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	r := start(t, target, []string{"XDG_CACHE_HOME=" + cache}, "plugin", "add", aplugin)
	r.waitFor(t, "Waiting for the trim of the cache")
	unchangedBin()
	if work, _ := os.ReadDir(filepath.Join(cache, "go-selfcompile", "work")); len(work) > 0 {
		t.Fatalf("the install made a workdir while it waited: %v", work)
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	if err := r.wait(); err != nil {
		t.Fatalf("the install after the trim: %v\n%s", err, r.stderr.String())
	}
	if out := mustRun(t, target); out != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the install: %q", out)
	}
}

// TrimCache and PurgeCache refuse with ErrLocked while an install by an
// earlier version of the library runs (it takes no cache lock, but holds a
// lock file in its workdir); once that installer is gone, a trim removes
// what it left.
func TestTrimSeesOldInstalls(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	root := filepath.Join(freshCache(t), "go-selfcompile") // the trim builds the program: from the seed, not cold
	old := filepath.Join(root, "work", "install-123")
	writeFiles(t, old, map[string]string{".selfcompile-lock": "", "tmp/f": "x"})
	f, err := os.OpenFile(filepath.Join(old, ".selfcompile-lock"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	sc := installer(t, installedCopy(t))
	sc.CacheDir = root
	if _, err := sc.TrimCache(context.Background()); !errors.Is(err, selfcompile.ErrLocked) || !strings.Contains(err.Error(), "earlier version") {
		t.Errorf("TrimCache during an earlier version's install: %v", err)
	}
	if err := sc.PurgeCache(t.Context()); !errors.Is(err, selfcompile.ErrLocked) {
		t.Errorf("PurgeCache during an earlier version's install: %v", err)
	}
	if _, err := os.Stat(filepath.Join(old, "tmp", "f")); err != nil {
		t.Fatalf("the live install's workdir was touched: %v", err)
	}
	f.Close() // the installer dies: its lock is free
	if _, err := sc.TrimCache(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("the trim kept what the dead install left")
	}
}

// TestRepeatInstallsDisk: ten installs, each adding a plugin, grow the
// caches by at most 20 MB in all: no install leaves a new copy of the
// bundle, and nothing temporary stays.
func TestRepeatInstallsDisk(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	cache := freshCache(t)
	env := []string{"XDG_CACHE_HOME=" + cache}
	pluginCmd(t, bin, env, "add", aplugin) // the first fills the module cache
	before := dirBytes(cache)
	for i := range 10 {
		d := filepath.Join(tempDir(t), "rep")
		name := "rep" + string(rune('a'+i))
		writePlugin(t, d, "example.com/"+name, name+" activated.")
		pluginCmd(t, bin, env, "add", d)
	}
	grew := dirBytes(cache) - before
	t.Logf("ten installs grew the caches by %.1f MB", float64(grew)/1e6)
	if grew > 20e6 {
		t.Errorf("ten installs grew the caches by %.1f MB, more than 20 MB", float64(grew)/1e6)
	}
	if out := mustRun(t, bin); !strings.Contains(out, "repj activated.") {
		t.Fatalf("after ten installs: %q", out)
	}
}

// TestCacheTrim: plugin cache --trim removes what the current binary does
// not need (another toolchain, another program's caches, modules no build
// list names, what killed installs left, this version's and an earlier
// one's) and keeps what it does: the next install, offline, restores no
// toolchain, does not merge the program's modules again (the trim kept
// them all), and succeeds. The record that another binary's modules were
// merged goes: some of them may be gone.
func TestCacheTrim(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	cache := freshCache(t)
	env := []string{"XDG_CACHE_HOME=" + cache}
	pluginCmd(t, bin, env, "add", aplugin)
	root := filepath.Join(cache, "go-selfcompile")
	mods, _ := filepath.Glob(filepath.Join(root, "hosts", "*", "mod"))
	if len(mods) != 1 {
		t.Fatalf("module caches: %q", mods)
	}
	stale := []string{
		filepath.Join(root, "toolchains", "go1.25.0-0123456789abcdef01234567"),
		filepath.Join(root, "hosts", "otherprogram-01234567", "mod"),
		filepath.Join(root, "work", "install-123"),
		filepath.Join(root, "work", "install-456"),          // left by an earlier version, its lock inside
		filepath.Join(mods[0], "example.com", "old@v1.0.0"), // a module no build list names
		filepath.Join(root, "goplugins"),                    // Go plugins built for live loads
	}
	for _, d := range stale {
		writeFiles(t, d, map[string]string{"f": strings.Repeat("x", 1<<20)})
	}
	merged, _ := filepath.Glob(filepath.Join(mods[0], ".selfcompile-modules-*"))
	if len(merged) == 0 {
		t.Fatal("no record that the program's modules were merged")
	}
	otherMerged := filepath.Join(mods[0], ".selfcompile-modules-0123456789abcdef01234567") // another binary's plugins
	writeFiles(t, mods[0], map[string]string{filepath.Base(otherMerged): ""})
	if out := pluginCmd(t, bin, env, "cache"); !strings.Contains(out, "goplugins ") {
		t.Errorf("plugin cache does not list the Go plugins:\n%s", out)
	}
	// Their installers died: nobody holds the locks.
	os.WriteFile(stale[2]+".lock", nil, 0o600)
	os.WriteFile(filepath.Join(stale[3], ".selfcompile-lock"), nil, 0o600)
	// A build cache entry no build of this program uses, made just now, as
	// another program's install would.
	unused := filepath.Join(root, "build", "ff", strings.Repeat("f", 64)+"-d")
	writeFiles(t, filepath.Dir(unused), map[string]string{filepath.Base(unused): strings.Repeat("x", 1<<20)})
	out := pluginCmd(t, bin, env, "cache", "--trim")
	if !strings.Contains(out, "Freed ") || !strings.Contains(out, "toolchain ") || !strings.Contains(out, "modules ") {
		t.Errorf("plugin cache --trim:\n%s", out)
	}
	for _, d := range append(stale, stale[2]+".lock", unused, otherMerged) {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("trim kept %s", d)
		}
	}
	// The toolchain and the program's modules were kept, and so were the
	// build cache entries of the program as installed: removing the plugin
	// restores nothing and compiles main alone.
	_, errOut, err := run(t, bin, append(env, "GO_SELFCOMPILE_PROGRESS=1"), "plugin", "remove", aplugin)
	if err != nil || strings.Contains(errOut, "Restored toolchain") || strings.Contains(errOut, "Restored modules") {
		t.Fatalf("the install after the trim: %v\n%s", err, errOut)
	}
	if n := strings.Count(errOut, "build: compiled "); n != 1 || !strings.Contains(errOut, "build: compiled github.com/shazow/go-selfcompile/example/abinary,") {
		t.Errorf("the install after the trim compiled %d packages, want main alone:\n%s", n, errOut)
	}
	if out := mustRun(t, bin); out != "Just doing binary things\n" {
		t.Fatalf("after the install that followed the trim: %q", out)
	}
}
