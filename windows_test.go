//go:build linux && amd64

package selfcompile_test

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// make test-windows runs windows/amd64 programs here under Debian's Wine
// 8.0 (wine64). Two quirks of Wine are worked around, neither of which
// changes what the product does on Windows:
//
//   - Wine 8.0 has no bcryptprimitives.dll, whose ProcessPrng Go 1.24 and
//     later call at start-up: a DLL of a few lines, built with MinGW-w64
//     from testdata/wine/bcryptprimitives.c on top of RtlGenRandom, is put
//     into the Wine prefix's system32.
//   - Wine 8.0 answers FileDispositionInformationEx, with which Go deletes
//     files (os.Remove, os.RemoveAll), with STATUS_NOT_IMPLEMENTED, where
//     Windows before 10 1809 answers STATUS_INVALID_PARAMETER and Go falls
//     back to FileDispositionInformation. Go's fallback does not know that
//     status, so under Wine every removal of a file fails ("Invalid
//     function"), the go command exits 1 after each build, and no workdir
//     can be removed. The test builds its Windows programs and toolchain
//     from a copy of GOROOT whose internal/syscall/windows/at_windows.go
//     falls back on that status too (windowsGOROOT): on Windows, where the
//     status does not come, nothing changes.
//
// What Wine cannot prove is Windows' sharing rules: Wine lets a running
// .exe be renamed, as Windows does, but also overwritten and deleted,
// which Windows refuses. Those stay with the swap's file-system seam tests.

// wine runs windows/amd64 programs: its prefix, with the DLL, and a
// wineserver kept running for the test.
type wine struct {
	bin, server, prefix string
}

// setupWine skips the test unless make test-windows asked for it and Wine
// and MinGW-w64 are installed, and prepares a prefix under build/wine,
// kept between runs.
func setupWine(t *testing.T) *wine {
	t.Helper()
	if os.Getenv("SELFCOMPILE_TEST_WINDOWS") == "" {
		t.Skip("make test-windows runs it")
	}
	w := &wine{bin: "/usr/lib/wine/wine64", server: "/usr/lib/wine/wineserver"}
	if _, err := exec.LookPath("x86_64-w64-mingw32-gcc"); err != nil || !fileExists(w.bin) {
		t.Fatal("make test-windows installs wine64 and gcc-mingw-w64-x86-64-win32; they are missing")
	}
	root, _ := os.Getwd()
	base := wineDir(t)
	w.prefix = filepath.Join(base, "prefix")
	dll := filepath.Join(w.prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll")
	if !fileExists(dll) {
		start := time.Now()
		os.RemoveAll(w.prefix)
		os.MkdirAll(base, 0o755)
		built := filepath.Join(base, "bcryptprimitives.dll")
		if out, err := exec.Command("x86_64-w64-mingw32-gcc", "-shared", "-O2", "-s", "-nostdlib", "-Wl,--entry,DllMain", "-Wl,--no-insert-timestamp",
			"-o", built, filepath.Join(root, "testdata", "wine", "bcryptprimitives.c"), "-ladvapi32", "-lkernel32").CombinedOutput(); err != nil {
			t.Fatalf("building bcryptprimitives.dll: %v\n%s", err, out)
		}
		w.quiet(t, w.bin, "wineboot", "-i")
		w.quiet(t, w.server, "-w")
		data, err := os.ReadFile(built)
		if err == nil {
			err = os.WriteFile(dll, data, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("Wine prefix made in %v", time.Since(start).Round(time.Second))
	}
	// A wineserver for the whole test, started with no pipe of ours open:
	// a Wine process started with our pipes would hold them after it ends.
	stale := exec.Command(w.server, "-k") // one a killed run left
	stale.Env = w.env()
	stale.Run()
	w.quiet(t, w.server, "-p")
	w.quiet(t, w.bin, "wineboot")
	t.Cleanup(func() {
		stop := exec.Command(w.server, "-k")
		stop.Env = w.env()
		stop.Run()
	})
	return w
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// env is the environment of Wine programs: no display, no Wine debug
// output, the prefix, plus extra.
func (w *wine) env(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") {
			env = append(env, kv)
		}
	}
	return append(append(env, "WINEPREFIX="+w.prefix, "WINEDEBUG=-all"), extra...)
}

// quiet runs a Wine command with its output discarded, and fails the test
// if it fails.
func (w *wine) quiet(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = w.env()
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
}

// winPath is the Windows path Wine gives the Linux path p.
func winPath(p string) string { return `Z:` + strings.ReplaceAll(p, "/", `\`) }

// wineDir returns build/wine, where make test-windows keeps what it makes
// once: a go.mod there keeps all of it out of this module, so that the
// copy of GOROOT's test directory (Go files that belong to no module) is
// not among the packages of go vet ./... in a later make test.
func wineDir(t *testing.T) string {
	t.Helper()
	root, _ := os.Getwd()
	dir := filepath.Join(root, "build", "wine")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("// What make test-windows keeps: not part of github.com/shazow/go-selfcompile.\nmodule wine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// windowsGOROOT returns a copy of this machine's GOROOT, hard links but
// for the one file patched for Wine (see above), made once under
// build/wine.
func windowsGOROOT(t *testing.T) string {
	t.Helper()
	dst := filepath.Join(wineDir(t), "goroot-"+runtime.Version())
	if fileExists(filepath.Join(dst, ".patched")) {
		return dst
	}
	os.RemoveAll(dst)
	if out, err := exec.Command("cp", "-al", runtime.GOROOT(), dst).CombinedOutput(); err != nil {
		t.Fatalf("copying GOROOT: %v\n%s", err, out)
	}
	file := filepath.Join(dst, "src", "internal", "syscall", "windows", "at_windows.go")
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	const old = "\t\tSTATUS_NOT_SUPPORTED:     // the file system doesn't support FILE_DISPOSITION_INFORMATION_EX or one of the flags\n\t\treturn deleteatFallback(h)"
	const fixed = "\t\tSTATUS_NOT_SUPPORTED,     // the file system doesn't support FILE_DISPOSITION_INFORMATION_EX or one of the flags\n\t\tNTStatus(0xC0000002):     // STATUS_NOT_IMPLEMENTED: Wine 8.0 (make test-windows)\n\t\treturn deleteatFallback(h)"
	if strings.Count(string(src), old) != 1 {
		t.Fatalf("%s is not the one the Wine workaround knows: update windowsGOROOT", file)
	}
	os.Remove(file) // a hard link to the real GOROOT's file
	if err := os.WriteFile(file, []byte(strings.Replace(string(src), old, fixed, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dst, ".patched"), nil, 0o644)
	return dst
}

// goEnv is the environment of a go command that builds with goroot.
func goEnv(goroot string, extra ...string) []string {
	return append([]string{"GOROOT=" + goroot, "PATH=" + filepath.Join(goroot, "bin") + string(os.PathListSeparator) + os.Getenv("PATH"), "GOTOOLCHAIN=local"}, extra...)
}

// windowsToolchain cross-builds a windows/amd64 toolchain from goroot,
// laid out as the golang.org/toolchain module is (bin/go.exe,
// pkg/tool/windows_amd64, src without cmd and tests, go.mod files named
// _go.mod), once, under build/wine.
func windowsToolchain(t *testing.T, goroot string) string {
	t.Helper()
	dst := filepath.Join(wineDir(t), "toolchain-"+runtime.Version()+"-windows-amd64")
	if fileExists(filepath.Join(dst, "VERSION")) {
		return dst
	}
	start := time.Now()
	os.RemoveAll(dst)
	tmp := dst + ".tmp"
	os.RemoveAll(tmp)
	env := goEnv(goroot, "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=")
	for _, b := range [][]string{
		{"-o", filepath.Join(tmp, "bin", "go.exe"), "cmd/go"},
		{"-o", filepath.Join(tmp, "pkg", "tool", "windows_amd64") + "/", "cmd/compile", "cmd/link", "cmd/asm", "cmd/cgo", "cmd/vet"},
	} {
		if out, err := command(filepath.Join(goroot, "src"), env, "go", append([]string{"build", "-trimpath"}, b...)...); err != nil {
			t.Fatalf("cross-building the Windows toolchain: %v\n%s", err, out)
		}
	}
	err := filepath.WalkDir(filepath.Join(goroot, "src"), func(p string, d os.DirEntry, err error) error {
		rel, _ := filepath.Rel(goroot, p)
		switch {
		case err != nil:
			return err
		case d.IsDir() && (rel == filepath.Join("src", "cmd") || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || strings.HasSuffix(p, "_test.go"):
			return nil
		case d.Name() == "go.mod":
			rel = filepath.Join(filepath.Dir(rel), "_go.mod")
		}
		return fsutil.CopyFile(p, filepath.Join(tmp, rel), 0o644)
	})
	for _, f := range []string{"VERSION", "go.env", "pkg/include/asm_amd64.h", "pkg/include/asm_ppc64x.h", "pkg/include/funcdata.h", "pkg/include/textflag.h"} {
		if err == nil && fileExists(filepath.Join(goroot, f)) {
			err = fsutil.CopyFile(filepath.Join(goroot, f), filepath.Join(tmp, f), 0o644)
		}
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module golang.org/toolchain\n"), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Windows toolchain cross-built in %v", time.Since(start).Round(time.Second))
	return dst
}

// winRun runs a Windows program under Wine and returns its output, its
// stderr and how it ended.
func (w *wine) run(exe string, env []string, args ...string) (string, string, error) {
	cmd := w.command(exe, env, args...)
	var o, e syncBuffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	return strings.ReplaceAll(o.String(), "\r\n", "\n"), e.String(), err
}

func (w *wine) command(exe string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(w.bin, append([]string{exe}, args...)...)
	cmd.Dir = filepath.Dir(exe)
	cmd.Env = w.env(env...)
	return cmd
}

// winProgram is a program of a copy of this repository, generated and
// cross-built for windows/amd64 as make test-windows builds its programs.
type winProgram struct {
	repo   string // the copy of the repository, with the bundle generated
	goroot string // the GOROOT patched for Wine (windowsGOROOT)
	exe    string // the program, in work/bin
}

// buildEnv is the environment of a go command that builds for Windows
// with the patched GOROOT.
func (p winProgram) buildEnv() []string {
	return goEnv(p.goroot, "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
}

// windowsProgram generates the bundle of the main package in pkg (a path
// relative to the repository, "example/abinary") for windows/amd64, with a
// toolchain cross-built from this machine's GOROOT and the warm cache, in
// a copy of this repository under work, and cross-builds it with the
// go build flags flags into work/bin/name.
func windowsProgram(t *testing.T, work, pkg, name string, flags ...string) winProgram {
	t.Helper()
	p := winProgram{repo: filepath.Join(work, "repo"), goroot: windowsGOROOT(t)}
	toolchain := windowsToolchain(t, p.goroot)
	// What it keeps for the next run is no package of this module's, so
	// the next make test vets this module alone.
	if out, err := command(".", nil, "go", "list", "-e", "./..."); err != nil || strings.Contains(string(out), "/build/") {
		t.Errorf("after make test-windows, go list ./... of this module: %v\n%s", err, out)
	}
	genEnv := goEnv(p.goroot, toolchainProxy(t, work, "v0.0.1-"+runtime.Version()+".windows-amd64", toolchain)...)
	if err := copyRepo(e2e.repo, p.repo); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(p.repo, filepath.FromSlash(pkg))
	start := time.Now()
	if out, err := command(dir, genEnv, "go", "tool", "go-selfcompile", "--targets", "windows/amd64", "--warm-cache", "--level", "fastest", "-q"); err != nil {
		t.Fatalf("generating %s for windows/amd64: %v\n%s", pkg, err, out)
	}
	t.Logf("generation of %s for windows/amd64 with --warm-cache: %v", pkg, time.Since(start).Round(time.Second))
	p.exe = filepath.Join(work, "bin", name)
	args := append(append([]string{"build", "-trimpath"}, flags...), "-o", p.exe, ".")
	if out, err := command(dir, p.buildEnv(), "go", args...); err != nil {
		t.Fatalf("cross-building %s: %v\n%s", pkg, err, out)
	}
	return p
}

// TestWindowsUnderWine (make test-windows): example-abinary, generated
// here for windows/amd64 with a toolchain cross-built from this machine's
// GOROOT and the warm cache, cross-built, installs plugins under Wine,
// offline, with the toolchain it carries: the Windows program does what
// the Linux one does, each step checked as a user would see it.
func TestWindowsUnderWine(t *testing.T) {
	w := setupWine(t)
	setupE2E(t)
	work := tempDir(t)
	prog := windowsProgram(t, work, "example/abinary", "example-abinary.exe", "-tags", failpointTag, "-ldflags", e2eLDFlags)
	repo, bin := prog.repo, prog.exe
	// A cache of its own, in the place Windows programs keep theirs.
	env := []string{"LOCALAPPDATA=" + winPath(filepath.Join(work, "appdata")), "GOPROXY=off", "GO_SELFCOMPILE_PROGRESS=1"}
	// runs checks what the binary prints: the plugins' lines, in the
	// order of their import paths, as their init functions run.
	runs := func(plugins ...string) {
		t.Helper()
		slices.Sort(plugins)
		want := ""
		for _, p := range plugins {
			want += path.Base(p) + " activated.\n"
		}
		want += "Just doing binary things\n"
		out, errOut, err := w.run(bin, env)
		if err != nil || out != want {
			t.Fatalf("example-abinary.exe: %v\n%q, want %q\n%s", err, out, want, errOut)
		}
	}
	install := func(args ...string) string {
		t.Helper()
		start := time.Now()
		out, errOut, err := w.run(bin, env, append([]string{"plugin"}, args...)...)
		if err != nil {
			t.Fatalf("plugin %s under Wine: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
		}
		t.Logf("plugin %s: %v", strings.Join(args, " "), time.Since(start).Round(100*time.Millisecond))
		return out + errOut
	}
	runs()

	// The first install, offline, on a fresh cache: the warm cache is hit,
	// but for the packages that failpointTag changes, which the generator
	// built without it.
	tagged := failpointDependents(t, repo, prog.buildEnv())
	log := install("add", aplugin)
	for _, line := range strings.Split(log, "\n") {
		_, p, ok := strings.Cut(line, "build: compiled ")
		p, _, _ = strings.Cut(p, ",") // "PKG, 3 of the 256 packages in the program (8s)"
		if ok && !strings.HasPrefix(p, aplugin) && !strings.HasPrefix(p, "github.com/shazow/go-selfcompile/example/abinary") && !tagged[p] {
			t.Errorf("compiled %s, which the warm cache should have held", p)
		}
	}
	runs(aplugin)
	backups, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), ".example-abinary.exe.selfcompile-backup-*"))
	if len(backups) != 1 {
		t.Errorf("beside the binary: backups %q, want the previous binary", backups)
	}

	// A second plugin while the binary runs: a process of it paused.
	second := filepath.Join(work, "second")
	writePlugin(t, second, "example.com/second", "second activated.")
	paused := w.command(bin, append(env, "GO_SELFCOMPILE_FAILPOINT=begin:pause"), "plugin", "add", "--dry-run", aplugin)
	var pausedErr syncBuffer
	paused.Stderr = &pausedErr
	stdin, _ := paused.StdinPipe()
	if err := paused.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); !strings.Contains(pausedErr.String(), "failpoint begin pause"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the running binary did not pause:\n%s", pausedErr.String())
		}
	}
	install("add", second)
	runs(aplugin, "example.com/second")
	stdin.Write([]byte("\n"))
	if err := paused.Wait(); err != nil {
		t.Errorf("the binary that ran through the install: %v\n%s", err, pausedErr.String())
	}

	if l := install("list"); !strings.Contains(l, aplugin) || !strings.Contains(l, "example.com/second") {
		t.Errorf("plugin list:\n%s", l)
	}
	install("remove", aplugin)
	runs("example.com/second")
	install("rollback")
	runs(aplugin, "example.com/second")

	// --restart: the new binary runs the same command, which finds nothing
	// to do.
	third := filepath.Join(work, "third")
	writePlugin(t, third, "example.com/third", "third activated.")
	if out := install("add", "--restart", third); !strings.Contains(out, "Restarting.") || !strings.Contains(out, "Nothing to do") {
		t.Errorf("add --restart:\n%s", out)
	}
	runs(aplugin, "example.com/second", "example.com/third")

	// Two installers at once: the second waits for the first, then adds
	// its plugin to the first's.
	fourth, fifth := filepath.Join(work, "fourth"), filepath.Join(work, "fifth")
	writePlugin(t, fourth, "example.com/fourth", "fourth activated.")
	writePlugin(t, fifth, "example.com/fifth", "fifth activated.")
	both := make(chan error, 2)
	for _, p := range []string{fourth, fifth} {
		go func() {
			out, errOut, err := w.run(bin, env, "plugin", "add", p)
			if err != nil {
				err = fmt.Errorf("%v\n%s%s", err, out, errOut)
			}
			both <- err
		}()
	}
	for range 2 {
		if err := <-both; err != nil {
			t.Fatalf("one of two installers at once: %v", err)
		}
	}
	runs(aplugin, "example.com/second", "example.com/third", "example.com/fourth", "example.com/fifth")

	// An install killed while it compiles leaves the binary as it was, and
	// the next one succeeds.
	sixth := filepath.Join(work, "sixth")
	writePlugin(t, sixth, "example.com/sixth", "sixth activated.")
	before, _ := os.ReadFile(bin)
	_, errOut, err := w.run(bin, append(env, "GO_SELFCOMPILE_FAILPOINT=compiled.1"), "plugin", "add", sixth)
	if err == nil || !strings.Contains(errOut, "failpoint compiled.1 kill") {
		t.Fatalf("the install was not killed: %v\n%s", err, errOut)
	}
	if after, _ := os.ReadFile(bin); string(after) != string(before) {
		t.Fatal("a killed install changed the binary")
	}
	runs(aplugin, "example.com/second", "example.com/third", "example.com/fourth", "example.com/fifth")
	install("add", sixth)
	runs(aplugin, "example.com/second", "example.com/third", "example.com/fourth", "example.com/fifth", "example.com/sixth")
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(bin), ".example-abinary.exe.selfcompile-new-*")); len(left) > 0 {
		t.Errorf("left beside the binary: %q", left)
	}
}

// failpointDependents returns the packages of example-abinary in repo that
// import internal/failpoint, directly or not, and that package itself:
// those whose build failpointTag changes.
func failpointDependents(t *testing.T, repo string, env []string) map[string]bool {
	t.Helper()
	const failpoint = "github.com/shazow/go-selfcompile/internal/failpoint"
	out, err := command(repo, env, "go", "list", "-tags", failpointTag, "-deps", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", "./example/abinary")
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	pkgs := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && (f[0] == failpoint || slices.Contains(f[1:], failpoint)) {
			pkgs[f[0]] = true
		}
	}
	if !pkgs["github.com/shazow/go-selfcompile"] {
		t.Fatalf("go list: package selfcompile does not import %s:\n%s", failpoint, out)
	}
	return pkgs
}

// TestWindowsProcessPlugin (make test-windows): example/processhost,
// generated and cross-built for windows/amd64 as TestWindowsUnderWine's
// program is, installs its process plugin hello under Wine, offline from
// its folder (pflag v1.0.6, which the host does not have, from a file
// proxy), with the toolchain it carries, and greets through it: go-plugin
// starts hello.exe, checked against the manifest's sha256, and the host
// calls it over TCP loopback, go-plugin's transport on Windows. A running
// "processhost serve" gains panicky, installed meanwhile, without a
// restart; panicky's panic leaves it serving, the error naming the
// plugin; hello is installed again and removed while the host runs it.
func TestWindowsProcessPlugin(t *testing.T) {
	w := setupWine(t)
	setupE2E(t)
	work := tempDir(t)
	prog := windowsProgram(t, work, "example/processhost", "processhost.exe")
	bin := prog.exe
	same := unchanged(t, bin)
	moduleSums(t, "github.com/spf13/pflag@v1.0.6") // the file proxy serves it
	env := []string{"LOCALAPPDATA=" + winPath(filepath.Join(work, "appdata")),
		"GOPROXY=file:///Z:" + filepath.Join(e2e.modcache, "cache", "download")}
	src := filepath.Join(prog.repo, "example", "processhost", "plugins")
	folder := winPath(filepath.Join(src, "hello"))
	add := func(folder string) {
		t.Helper()
		start := time.Now()
		out, errOut, err := w.run(bin, env, "plugin", "add", "--process", folder)
		if err != nil {
			t.Fatalf("plugin add --process %s under Wine: %v\n%s%s", folder, err, out, errOut)
		}
		t.Logf("plugin add --process %s: %v", folder, time.Since(start).Round(100*time.Millisecond))
		same()
	}
	add(folder)
	exe := filepath.Join(filepath.Dir(bin), "processhost.plugins", "hello.exe")
	plugins := readManifest(t, filepath.Dir(exe))
	if len(plugins) != 1 || plugins[0].Name != "hello" || plugins[0].SHA256 != fileHash(t, exe) || plugins[0].Local != folder {
		t.Errorf("the manifest records %+v; %s's sha256 is %s", plugins, exe, fileHash(t, exe))
	}
	if out, _, err := w.run(bin, env, "plugin", "list"); err != nil || out != "example.com/processhost/hello process hello local "+folder+"\n" {
		t.Errorf("plugin list: %v\n%s", err, out)
	}
	const answer = "hello: hello you, from a process plugin built with pflag v1.0.6"
	start := time.Now()
	out, errOut, err := w.run(bin, env, "greet", "hello", "you")
	if err != nil || out != answer+"\n" {
		t.Errorf("greet hello you under Wine: %v\n%q, want %q\n%s", err, out, answer, errOut)
	}
	t.Logf("greet hello you: %v", time.Since(start).Round(100*time.Millisecond))

	srv := startCommand(t, w.command(bin, env, "serve"))
	if got := srv.ask(t, "greet hello you"); got != answer {
		t.Errorf("processhost serve: %s", got)
	}
	add(winPath(filepath.Join(src, "panicky")))
	if got := srv.ask(t, "greet panicky you"); !strings.HasPrefix(got, "error: process plugin panicky: ") || !strings.Contains(got, "panic: panicky cannot greet you") {
		t.Errorf("a plugin installed while the host serves, which panics: %s", got)
	}
	if got := srv.ask(t, "greet hello you"); got != answer {
		t.Errorf("the host, after a plugin panicked: %s", got)
	}
	add(folder) // while the host runs hello.exe
	if !fileExists(exe+".previous") || readManifest(t, filepath.Dir(exe))[0].Previous != fileHash(t, exe+".previous") {
		t.Errorf("installed again, hello did not keep its previous executable as %s.previous", exe)
	}
	if got := srv.ask(t, "greet hello again"); got != "hello: hello again, from a process plugin built with pflag v1.0.6" {
		t.Errorf("the host, after hello was installed again: %s", got)
	}
	if out, errOut, err := w.run(bin, env, "plugin", "remove", "--process", "hello"); err != nil {
		t.Errorf("plugin remove --process hello while the host runs it: %v\n%s%s", err, out, errOut)
	}
	if got := srv.ask(t, "greet hello you"); !strings.HasPrefix(got, "error: process plugin hello: not installed") || fileExists(exe) {
		t.Errorf("the host, after hello was removed: %s", got)
	}
	srv.stdin.Close()
	if err := srv.wait(); err != nil {
		t.Errorf("processhost serve, at the end of its input: %v\n%s", err, srv.stderr.String())
	}
	same()
}
