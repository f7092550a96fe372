//go:build unix

package selfcompile_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

// A plugin's folder goes into the binary only as far as the build uses
// it: not its dotfiles, data, files reached through symlinks, or what else
// shares its module when go.mod sits high, as in a home directory. The
// plan says what is carried. A package file that leaves the module through
// a symlink is refused.
func TestPluginFolderCarriesOnlyWhatBuilds(t *testing.T) {
	setupE2E(t)
	home := tempDir(t)
	outside := filepath.Join(tempDir(t), "outside.txt")
	os.WriteFile(outside, []byte("not the plugin's"), 0o644)
	writeFiles(t, home, map[string]string{
		"go.mod":                    "module example.com/home\n\ngo 1.26\n",
		"LICENSE":                   "MIT\n",
		".ssh/id_ed25519":           "PRIVATE KEY",
		"Documents/taxes.pdf":       strings.Repeat("x", 2<<20),
		"other/other.go":            "package other\n\nconst Secret = \"another package of the module\"\n",
		"src/plugin/plugin.go":      "package plugin\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/home/src/plugin/util\"\n)\n\nfunc init() { fmt.Println(\"home plugin activated.\", util.X) }\n",
		"src/plugin/util/util.go":   "package util\n\nconst X = 1\n",
		"src/plugin/.env":           "TOKEN=secret",
		"src/plugin/data.bin":       strings.Repeat("\x00", 3<<20),
		"src/plugin/plugin_test.go": "package plugin\n",
	})
	os.Symlink(outside, filepath.Join(home, "src", "plugin", "notes.txt"))
	spec := filepath.Join(home, "src", "plugin")
	want := []string{"LICENSE", "go.mod", "src/plugin/plugin.go", "src/plugin/util/util.go"}

	target := installedCopy(t)
	sc := installer(t, target)
	plan, err := sc.Plan(t.Context(), selfcompile.Change{Op: selfcompile.Add, Spec: spec})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Carried["example.com/home/src/plugin"]; !slices.Equal(got, want) {
		t.Errorf("the plan carries %q, want %q", got, want)
	}
	if _, err := sc.Apply(t.Context(), selfcompile.Change{Op: selfcompile.Add, Spec: spec}); err != nil {
		t.Fatal(err)
	}
	var carried []string
	for _, name := range partFiles(t, target, bundle.Plugins, bundle.PartLocal) {
		carried = append(carried, strings.TrimPrefix(name, "example.com/home/"))
	}
	if !slices.Equal(carried, want) {
		t.Errorf("the binary carries %q, want %q", carried, want)
	}

	// A Go file that is a symlink out of the module is refused.
	linked := filepath.Join(tempDir(t), "linked")
	writePlugin(t, linked, "example.com/linked", "linked activated.")
	evil := filepath.Join(tempDir(t), "evil.go")
	os.WriteFile(evil, []byte("package linked\n"), 0o644)
	os.Symlink(evil, filepath.Join(linked, "evil.go"))
	before := fileHash(t, target)
	sc = installer(t, target)
	sc.Plugin(linked)
	if err := sc.Compile(); !errors.Is(err, selfcompile.ErrInvalidPlugin) || !strings.Contains(err.Error(), "outside") || !strings.Contains(err.Error(), "evil.go") {
		t.Errorf("a symlink out of the plugin's module: %v", err)
	}
	if fileHash(t, target) != before {
		t.Error("the binary changed")
	}
}

// A dry run on a plugin folder that is a git work tree runs nothing of its
// git configuration: core.fsmonitor is the classic way to run a command.
func TestPluginFolderGitConfigNotRun(t *testing.T) {
	setupE2E(t)
	plug := filepath.Join(tempDir(t), "gitplug")
	writePlugin(t, plug, "example.com/gitplug", "gitplug activated.")
	marker := filepath.Join(tempDir(t), "fsmonitor-ran")
	for _, args := range [][]string{{"init", "-q"}, {"config", "core.fsmonitor", "touch " + marker + "; false"}, {"add", "."}} {
		if out, err := command(plug, nil, "git", args...); err != nil {
			t.Skipf("git %v: %v %s", args, err, out)
		}
	}
	os.Remove(marker) // git add may have run it
	bin := installedCopy(t)
	pluginCmd(t, bin, nil, "add", "--dry-run", plug)
	pluginCmd(t, bin, nil, "add", plug)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the plugin folder's core.fsmonitor ran")
	}
}

// A cache directory that others may write, or that belongs to another
// user, is refused before any work; in a private one, a file restored
// before is not trusted because it is there.
func TestCacheTrust(t *testing.T) {
	setupE2E(t)
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
	flag := filepath.Join(cache, "go-selfcompile", "hosts", fmt.Sprintf("abinary-%x", sum[:4]), "mod", "github.com", "spf13", "pflag@v1.1.0", "flag.go")
	writeFiles(t, filepath.Dir(flag), map[string]string{"flag.go": "package pflag\n\nfunc init() { println(\"EVIL\") }\n"})
	pluginCmd(t, target, []string{"XDG_CACHE_HOME=" + cache}, "add", aplugin)
	if _, errOut, _ := run(t, target, nil); strings.Contains(errOut, "EVIL") {
		t.Fatal("a module file found in the cache was compiled in")
	}
	if data, _ := os.ReadFile(flag); strings.Contains(string(data), "EVIL") {
		t.Fatal("the planted file is still in the cache")
	}
}

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
		copyBinary(t, e2e.abinary, bin)
		os.Chmod(bin, 0o755|os.ModeSetuid)
		testutil.RunAsNobody(t, "SETUID_HOST="+bin, "XDG_CACHE_HOME="+testutil.OpenDir(t, 0o777|os.ModeSticky))
		return
	}
	bin := os.Getenv("SETUID_HOST")
	before := fileHash(t, bin)
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
	if fileHash(t, bin) != before {
		t.Error("the binary changed")
	}
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

// second is what secondBuild built, once per test run.
var second struct {
	once sync.Once
	bin  string
	err  error
}

// secondBuild returns example-abinary built from changed source: what a
// package manager's upgrade would install. Tests read it, and copy it.
func secondBuild(t *testing.T) string {
	t.Helper()
	second.once.Do(func() { second.bin, second.err = buildSecond() })
	if second.err != nil {
		t.Fatal(second.err)
	}
	return second.bin
}

func buildSecond() (string, error) {
	repo := filepath.Join(e2e.work, "repo2")
	if err := copyRepo(e2e.repo, repo); err != nil {
		return "", err
	}
	main := filepath.Join(repo, "example", "abinary", "main.go")
	src, _ := os.ReadFile(main)
	os.WriteFile(main, bytes.Replace(src, []byte("Just doing binary things"), []byte("Just doing binary things, version 2"), 1), 0o644)
	if out, err := command(filepath.Dir(main), nil, e2e.gen, "--level", "fastest", "-q"); err != nil {
		return "", fmt.Errorf("generating: %v\n%s", err, out)
	}
	bin := filepath.Join(e2e.work, "v2")
	return bin, buildHost(repo, "./example/abinary", bin)
}

// A process whose executable was upgraded on disk while it ran refuses to
// install, rather than rebuild the old program over the new; one whose
// executable is damaged on disk fails, saying which bundle is damaged,
// rather than fall back to its own plugin list or call it a binary
// without bundles.
func TestExecutableChangedOnDisk(t *testing.T) {
	setupE2E(t)
	v2 := secondBuild(t)
	damaged := filepath.Join(tempDir(t), "damaged")
	data, _ := os.ReadFile(e2e.abinary)
	sections, _ := bundle.Locate(bytes.NewReader(data), int64(len(data)))
	for _, s := range sections {
		_, off, n := s.Outer()
		data[off+n/2] ^= 0xff // a byte in the middle of each bundle
	}
	os.WriteFile(damaged, data, 0o755)

	for _, c := range []struct {
		name, with, says string
	}{
		{"upgraded", v2, "was replaced since this program started"},
		{"damaged", damaged, "bundle is corrupt: the shared bundle's"},
	} {
		t.Run(c.name, func(t *testing.T) {
			target := installedCopy(t)
			r := start(t, target, []string{"GO_SELFCOMPILE_FAILPOINT=begin:pause"}, "plugin", "add", aplugin)
			r.waitFor(t, "selfcompile: failpoint begin pause")
			copyBinary(t, c.with, target) // as a package manager does: a new file renamed into place
			want := fileHash(t, target)
			r.resume()
			if err := r.wait(); err == nil || !strings.Contains(r.stderr.String(), c.says) {
				t.Fatalf("install after the executable changed: %v\n%s", err, r.stderr.String())
			}
			if fileHash(t, target) != want {
				t.Fatal("the install replaced the executable")
			}
		})
	}
}

// A binary moved away or deleted during the install is noticed before the
// swap, with an error that says so; the moved binary is intact and
// nothing is put at its old path.
func TestExecutableMovedDuringInstall(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	before := fileHash(t, target)
	r := start(t, target, []string{"GO_SELFCOMPILE_FAILPOINT=verify:pause"}, "plugin", "add", aplugin)
	r.waitFor(t, "selfcompile: failpoint verify pause")
	moved := target + ".moved"
	if err := os.Rename(target, moved); err != nil {
		t.Fatal(err)
	}
	r.resume()
	if err := r.wait(); err == nil || !strings.Contains(r.stderr.String(), "moved or deleted during the install") {
		t.Fatalf("install of a moved binary: %v\n%s", err, r.stderr.String())
	}
	if _, err := os.Stat(target); err == nil {
		t.Error("something was put at the old path")
	}
	if fileHash(t, moved) != before {
		t.Error("the moved binary changed")
	}
}

// Rollback puts back only a complete build of the same program from the
// same bundles, of the executable's owner and writable by no more users
// than the executable, and says why it refuses one; it runs none that it
// refuses.
func TestRollbackChecksBackup(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	os.Chmod(target, 0o775) // as under a umask of 002: its backups are group-writable too
	pluginCmd(t, target, nil, "add", aplugin)
	backups, _ := filepath.Glob(filepath.Join(filepath.Dir(target), ".example-abinary.selfcompile-backup-*"))
	if len(backups) != 1 {
		t.Fatalf("backups: %q", backups)
	}
	backup := backups[0]
	good, _ := os.ReadFile(backup)
	marker := filepath.Join(tempDir(t), "script-ran")
	v2 := secondBuild(t)
	for _, c := range []struct {
		name    string
		content func() []byte
		says    string
	}{
		{"a shell script", func() []byte { return []byte("#!/bin/sh\ntouch " + marker + "\necho selfcompile-probe\n") }, "damaged or truncated"},
		{"truncated", func() []byte { return good[:len(good)*3/4] }, "damaged or truncated"},
		{"another program", func() []byte { b, _ := os.ReadFile(e2e.gen); return b }, "not a self-compiling build"},
		{"another build", func() []byte { b, _ := os.ReadFile(v2); return b }, "rolling back would downgrade it"},
		{"writable by others", func() []byte { os.Chmod(backup, 0o777); return good }, "not one an install kept"},
		{"another user's", func() []byte { os.Chown(backup, 65534, 65534); return good }, "not one an install kept"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "another user's" && os.Getuid() != 0 {
				t.Skip("needs root to give the backup to another user")
			}
			os.Remove(backup)
			os.WriteFile(backup, nil, 0o755)
			os.WriteFile(backup, c.content(), 0o755)
			before := fileHash(t, target)
			out, errOut, err := run(t, target, nil, "plugin", "rollback")
			if err == nil || !strings.Contains(errOut, c.says) {
				t.Fatalf("rollback to %s: %v\n%s%s", c.name, err, out, errOut)
			}
			if fileHash(t, target) != before {
				t.Fatal("the binary changed")
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatal("the backup was run")
			}
		})
	}
	os.Remove(backup)
	os.WriteFile(backup, good, 0o755)
	os.Chmod(backup, 0o775) // as writable as the executable, as an install under a umask of 002 keeps it
	pluginCmd(t, target, nil, "rollback")
	if out := mustRun(t, target); out != "Just doing binary things\n" {
		t.Fatalf("after the rollback: %q", out)
	}
}

// A plugin that prints more than a MiB in init, or that starts a child
// which keeps standard output open, is verified like any other; the child
// does not outlive the verification.
func TestVerifyNoisyPlugins(t *testing.T) {
	setupE2E(t)
	pidFile := filepath.Join(tempDir(t), "child.pid")
	noisy := plugin(t, map[string]string{"go.mod": "module example.com/noisy\n\ngo 1.26\n",
		"p.go": "package noisy\n\nimport (\n\t\"fmt\"\n\t\"strings\"\n)\n\nfunc init() { fmt.Print(strings.Repeat(\"noise \", 400000)) }\n"})
	child := plugin(t, map[string]string{"go.mod": "module example.com/child\n\ngo 1.26\n",
		"p.go": "package child\n\nimport (\n\t\"os\"\n\t\"os/exec\"\n)\n\nfunc init() {\n\tif os.Getenv(\"GO_SELFCOMPILE_PROBE\") == \"\" {\n\t\treturn\n\t}\n\tcmd := exec.Command(\"sh\", \"-c\", \"echo $$ > " + pidFile + "; exec sleep 300\")\n\tcmd.Stdout = os.Stdout\n\tcmd.Start()\n\tfor i := 0; i < 500; i++ {\n\t\tif _, err := os.Stat(\"" + pidFile + "\"); err == nil {\n\t\t\tbreak\n\t\t}\n\t\texec.Command(\"sleep\", \"0.01\").Run()\n\t}\n}\n"})
	target := installedCopy(t)
	for _, p := range []string{noisy, child} {
		sc := installer(t, target)
		sc.ProbeTimeout = 20 * time.Second
		start := time.Now()
		sc.Plugin(p)
		if err := sc.Compile(); err != nil {
			t.Fatalf("install of %s: %v", filepath.Base(filepath.Dir(p)), err)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("install of %s took %v: it waited on the plugin's output", filepath.Base(filepath.Dir(p)), d)
		}
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal("the child never started:", err)
	}
	var pid int
	fmt.Sscan(string(data), &pid)
	if alive(pid) {
		t.Errorf("the child %d the plugin started outlived the verification", pid)
	}
}

// Errors name their real cause: a C compiler that fails is named, and no
// plugin is blamed for it; a plugin whose go.mod replaces a module that
// then cannot be found is told that replace directives are not followed,
// and the error still matches what failed (ErrNeedsNetwork offline).
func TestErrorsNameTheCause(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	before := fileHash(t, target)
	usesNet := plugin(t, map[string]string{"go.mod": "module example.com/usesnet\n\ngo 1.26\n",
		"p.go": "package usesnet\n\nimport \"net\"\n\nvar _ = net.ParseIP\n"})
	sc := installer(t, target)
	t.Setenv("CC", "/bin/false")
	sc.Plugin(usesNet)
	err := sc.Compile()
	var be *selfcompile.BuildError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), "C compiler (/bin/false)") || len(be.Plugins) != 0 {
		t.Errorf("with CC=/bin/false: %#v\n%v", be, err)
	}
	os.Unsetenv("CC")

	replacing := plugin(t, map[string]string{"go.mod": "module example.com/replacing\n\ngo 1.26\n\nrequire example.com/forked v1.0.0\n\nreplace example.com/forked => ../forked\n",
		"p.go": "package replacing\n\nimport _ \"example.com/forked\"\n"})
	sc = installer(t, target)
	sc.Plugin(replacing)
	err = sc.Compile()
	if !errors.Is(err, selfcompile.ErrInvalidPlugin) || !errors.Is(err, selfcompile.ErrNeedsNetwork) || !strings.Contains(err.Error(), "replace directive") || !strings.Contains(err.Error(), replacing) {
		t.Errorf("a plugin with replace directives: %v", err)
	}
	if fileHash(t, target) != before {
		t.Error("the binary changed")
	}
}

// KeepHostDeps refuses a plugin that is itself a module of the host's
// build list at another version: it moves the host's dependency.
func TestKeepHostDepsPluginModule(t *testing.T) {
	setupE2E(t)
	proxy := filepath.Join(tempDir(t), "proxy")
	publishCopy(t, proxy, e2e.modcache, "github.com/spf13/pflag", "v1.1.0", "v1.0.10")
	target := installedCopy(t)
	before := fileHash(t, target)
	out, errOut, err := run(t, target, []string{"GOPROXY=file://" + filepath.ToSlash(proxy), "GOSUMDB=off"}, "plugin", "add", "github.com/spf13/pflag@v1.0.10", "--keep-host-deps")
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, "github.com/spf13/pflag v1.1.0 => v1.0.10") || strings.Contains(errOut, "Compiling workdir") {
		t.Fatalf("--keep-host-deps with a host module as the plugin: %v\n%s%s", err, out, errOut)
	}
	if fileHash(t, target) != before {
		t.Error("the binary changed")
	}
}

// alive reports whether the process pid runs: it exists and is not a
// zombie waiting for a parent to reap it.
func alive(pid int) bool {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	return !strings.Contains(string(status), "State:\tZ")
}

// An executable rewritten in place during an install (the same file, new
// bytes, as cp or install -C write it) is noticed before the swap: the
// install fails with ErrStale and leaves the rewritten file as it is. The
// rewrite happens when the install reports that it verifies the new
// binary, after the build.
func TestExecutableRewrittenDuringInstall(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	v2, err := os.ReadFile(secondBuild(t))
	if err != nil {
		t.Fatal(err)
	}
	sc := installer(t, target)
	rewritten := false
	sc.Progress = func(e selfcompile.Event) {
		if e.Stage == "verify" && !e.Done && !rewritten {
			f, err := os.OpenFile(target, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Errorf("rewriting the executable: %v", err)
				return
			}
			f.Write(v2)
			f.Close()
			rewritten = true
		}
	}
	sc.Plugin(aplugin)
	err = sc.Compile()
	if !rewritten {
		t.Fatalf("the install never reached verify: %v", err)
	}
	if !errors.Is(err, selfcompile.ErrStale) || !strings.Contains(err.Error(), "rewritten") {
		t.Fatalf("install into an executable rewritten meanwhile: %v", err)
	}
	if got, _ := os.ReadFile(target); !bytes.Equal(got, v2) {
		t.Fatal("the install replaced the rewritten executable")
	}
}

// An install into a cache that TrimCache or PurgeCache holds (here, the
// test holds its lock as they do) waits and says so, changes nothing
// meanwhile, and goes on once the lock is free.
func TestInstallWaitsForTrim(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	before := fileHash(t, target)
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
	if fileHash(t, target) != before {
		t.Fatal("the binary changed while the install waited")
	}
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
	root := filepath.Join(tempDir(t), "cache")
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
	if err := sc.PurgeCache(); !errors.Is(err, selfcompile.ErrLocked) {
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
