package selfcompile_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// bundleOf returns the bundle that example-abinary embeds.
func bundleOf(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(e2e.repo, "example", "abinary", selfcompile.BundleFile))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// installer returns a SelfCompile that replaces target, as example-abinary
// would, but in this process, so that tests can inspect the typed error.
func installer(t *testing.T, target string, logs io.Writer) *selfcompile.SelfCompile {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	t.Setenv("GOPROXY", "off")
	return &selfcompile.SelfCompile{
		Target:       target,
		Bundle:       bundleOf(t),
		CacheDir:     filepath.Join(e2e.cacheDir, "go-selfcompile"),
		AutoCleanup:  true,
		ProbeTimeout: 3 * time.Second,
		Logger:       log.New(logs, "", 0),
	}
}

// plugin writes a module with the given files (go.mod included when given)
// and returns its directory.
func plugin(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugin")
	os.MkdirAll(dir, 0o755)
	for name, content := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const pluginMod = "module example.com/hostile\n\ngo 1.26\n"

// TestHostileInput feeds the installer malformed, malicious and broken
// plugins. Each must end in a typed error that says what is wrong, with
// the binary's hash unchanged.
func TestHostileInput(t *testing.T) {
	setupE2E(t)
	withInit := func(body string) map[string]string {
		return map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"time\"\n)\n\nvar _, _, _ = fmt.Sprint, os.Exit, time.Sleep\n\nfunc init() {\n" + body + "\n}\n"}
	}
	cases := []struct {
		name  string
		spec  func(t *testing.T) string
		want  error
		says  string
		probe time.Duration
	}{
		{"empty", lit(""), selfcompile.ErrInvalidPlugin, "empty plugin name", 0},
		{"blank", lit("   "), selfcompile.ErrInvalidPlugin, "empty plugin name", 0},
		{"quote injection", lit(`example.com/x"; func init() { panic(1) }; import _ "fmt`), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"newline injection", lit("example.com/x\"\nfunc init() { panic(1) }\nvar _ = \""), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"backquote injection", lit("example.com/x`+`"), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"NUL byte", lit("example.com/x\x00y"), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"comment injection", lit("example.com/x // y"), selfcompile.ErrInvalidPlugin, "not a valid import path", 0},
		{"go flag", lit("-toolexec=/bin/evil"), selfcompile.ErrInvalidPlugin, "not a valid import path", 0},
		{"dot-dot element", lit("example.com/../etc"), selfcompile.ErrInvalidPlugin, "not a valid import path", 0},
		{"non-ASCII path", lit("example.com/plügin"), selfcompile.ErrInvalidPlugin, "invalid char", 0},
		{"short version", lit("example.com/x@v1"), selfcompile.ErrInvalidPlugin, "full semantic version", 0},
		{"version without v", lit("example.com/x@1.2.3"), selfcompile.ErrInvalidPlugin, "invalid version", 0},
		{"version injection", lit("example.com/x@master;rm -rf /"), selfcompile.ErrInvalidPlugin, "invalid version", 0},
		{"empty version", lit("example.com/x@"), selfcompile.ErrInvalidPlugin, "invalid version", 0},
		{"two versions", lit("example.com/x@v1.0.0@v2.0.0"), selfcompile.ErrInvalidPlugin, "invalid version", 0},
		{"standard library", lit("fmt"), selfcompile.ErrInvalidPlugin, "standard library", 0},
		{"the host's main package", lit("github.com/shazow/go-selfcompile/example/abinary"), selfcompile.ErrInvalidPlugin, "main package", 0},
		{"another main package", lit("github.com/shazow/go-selfcompile/cmd/go-selfcompile"), selfcompile.ErrInvalidPlugin, "main package", 0},
		{"no such package in the host", lit("github.com/shazow/go-selfcompile/nope"), selfcompile.ErrInvalidPlugin, "nope", 0},
		{"no such module", lit("example.com/nonexistent"), selfcompile.ErrInvalidPlugin, "GOPROXY=off", 0},
		{"no such module version", lit("example.com/nonexistent@v1.0.0"), selfcompile.ErrInvalidPlugin, "GOPROXY=off", 0},
		{"missing directory", func(t *testing.T) string { return filepath.Join(t.TempDir(), "missing") }, selfcompile.ErrInvalidPlugin, "not found", 0},
		{"a file, not a directory", func(t *testing.T) string {
			return filepath.Join(plugin(t, map[string]string{"go.mod": pluginMod}), "go.mod")
		}, selfcompile.ErrInvalidPlugin, "not a directory", 0},
		{"folder outside any module", dir(map[string]string{"p.go": "package p\n"}), selfcompile.ErrInvalidPlugin, "not inside a Go module", 0},
		{"go.mod without module line", dir(map[string]string{"go.mod": "go 1.26\n", "p.go": "package p\n"}), selfcompile.ErrInvalidPlugin, "no module line", 0},
		{"invalid module path", dir(map[string]string{"go.mod": "module ../evil\n", "p.go": "package p\n"}), selfcompile.ErrInvalidPlugin, "not valid", 0},
		{"no Go files", dir(map[string]string{"go.mod": pluginMod, "README": "hi"}), selfcompile.ErrInvalidPlugin, "no Go files", 0},
		{"only test files", dir(map[string]string{"go.mod": pluginMod, "p_test.go": "package hostile\n"}), selfcompile.ErrInvalidPlugin, "no Go files (tests aside)", 0},
		{"main package from a folder", dir(map[string]string{"go.mod": pluginMod, "main.go": "package main\n\nfunc main() {}\n"}), selfcompile.ErrInvalidPlugin, "main package", 0},
		{"the host module's own folder", func(t *testing.T) string { return filepath.Join(e2e.repo, "example", "aplugin") }, selfcompile.ErrInvalidPlugin, "part of the host module", 0},
		{"syntax error", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nfunc init() {\n"}), selfcompile.ErrBuild, "syntax error", 0},
		{"type error", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nvar x int = \"s\"\n"}), selfcompile.ErrBuild, "cannot use \"s\"", 0},
		{"imports a missing module", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nimport _ \"example.com/missing/dep\"\n"}), selfcompile.ErrBuild, "example.com/missing/dep", 0},
		{"panics in init", dir(withInit(`panic("plugin exploded")`)), selfcompile.ErrVerify, "plugin exploded", 0},
		{"exits 0 in init", dir(withInit(`os.Exit(0)`)), selfcompile.ErrVerify, "without answering", 0},
		{"exits 3 in init", dir(withInit(`os.Exit(3)`)), selfcompile.ErrVerify, "exit status 3", 0},
		{"hangs in init", dir(withInit(`time.Sleep(time.Hour)`)), selfcompile.ErrVerify, "did not answer within 2s", 2 * time.Second},
	}
	if len(cases) < 30 {
		t.Fatalf("only %d cases", len(cases))
	}
	target := installedCopy(t)
	before := fileHash(t, target)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := installer(t, target, nil)
			if c.probe > 0 {
				sc.ProbeTimeout = c.probe
			}
			spec := c.spec(t)
			sc.Plugin(spec)
			err := sc.Compile()
			if !errors.Is(err, c.want) {
				t.Fatalf("Compile(%q) = %v, want %v", spec, err, c.want)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("error does not say %q:\n%v", c.says, err)
			}
			if fileHash(t, target) != before {
				t.Fatal("the binary changed")
			}
		})
	}
	// The errors name the plugin that failed.
	var be *selfcompile.BuildError
	sc := installer(t, target, nil)
	bad := dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nvar x int = \"s\"\n"})(t)
	sc.Plugin(bad)
	if err := sc.Compile(); !errors.As(err, &be) || len(be.Plugins) != 1 || be.Plugins[0] != bad {
		t.Errorf("BuildError does not name the plugin: %#v", err)
	}
	var ve *selfcompile.VerifyError
	sc = installer(t, target, nil)
	sc.Plugin(dir(withInit(`panic("x")`))(t))
	if err := sc.Compile(); !errors.As(err, &ve) || len(ve.Plugins) != 1 || ve.Plugins[0] != "example.com/hostile" {
		t.Errorf("VerifyError does not name the plugin: %#v", err)
	}
}

func lit(s string) func(*testing.T) string { return func(*testing.T) string { return s } }

func dir(files map[string]string) func(*testing.T) string {
	return func(t *testing.T) string { return plugin(t, files) }
}

// TestLock: a second installer of the same executable fails at once with
// ErrLocked when asked not to wait, and otherwise waits, says so, and then
// builds on what the first one installed.
func TestLock(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	// Another process holds the install lock: a shell with flock(1) would
	// do, but the library's own lock, taken by a helper process, is the
	// one that matters. example-abinary blocked in its probe stands in: it
	// holds the lock while a plugin's init sleeps.
	slow := plugin(t, map[string]string{"go.mod": "module example.com/slow\n\ngo 1.26\n", "p.go": "package slow\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"time\"\n)\n\nfunc init() {\n\tif os.Getenv(\"GO_SELFCOMPILE_PROBE\") != \"\" {\n\t\ttime.Sleep(1500 * time.Millisecond)\n\t}\n\tfmt.Println(\"slow activated.\")\n}\n"})
	first := exec.Command(target, "--plugin", slow)
	first.Env = append(os.Environ(), "XDG_CACHE_HOME="+e2e.cacheDir, "GOPROXY=off")
	var firstLog syncBuffer
	first.Stdout, first.Stderr = &firstLog, &firstLog
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer first.Process.Kill()
	// Wait until it is verifying, which it does holding the lock.
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(firstLog.String(), "Verifying") {
		if time.Now().After(deadline) {
			t.Fatalf("first install never reached verification:\n%s", firstLog.String())
		}
		time.Sleep(20 * time.Millisecond)
	}

	sc := installer(t, target, nil)
	sc.NoWait = true
	sc.Plugin("github.com/shazow/go-selfcompile/example/aplugin")
	if err := sc.Compile(); !errors.Is(err, selfcompile.ErrLocked) {
		t.Fatalf("NoWait install during another: %v, want ErrLocked", err)
	}

	var logs bytes.Buffer
	sc = installer(t, target, &logs)
	sc.ProbeTimeout = 20 * time.Second // the installed binary now sleeps in its probe
	sc.Plugin("github.com/shazow/go-selfcompile/example/aplugin")
	if err := sc.Compile(); err != nil {
		t.Fatalf("waiting install: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "Waiting for another install of "+target) {
		t.Errorf("the waiting installer did not say it waits:\n%s", logs.String())
	}
	if err := first.Wait(); err != nil {
		t.Fatalf("first install: %v\n%s", err, firstLog.String())
	}
	if out := mustRun(t, target); out != "slow activated.\naplugin activated.\nJust doing binary things\n" {
		t.Fatalf("the second install lost the first one's plugin: %q", out)
	}
}

// TestConcurrentInstalls starts four installers of four plugins at once:
// all succeed, and the binary ends with all four plugins.
func TestConcurrentInstalls(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	var dirs []string
	for _, name := range []string{"race1", "race2", "race3", "race4"} {
		d := filepath.Join(t.TempDir(), name)
		writePlugin(t, d, "example.com/"+name, name+" activated.")
		dirs = append(dirs, d)
	}
	var wg sync.WaitGroup
	errs := make([]error, len(dirs))
	outs := make([][]byte, len(dirs))
	for i, d := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(target, "--plugin", d)
			cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+e2e.cacheDir, "GOPROXY=off")
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("installer %d: %v\n%s", i, err, outs[i])
		}
	}
	want := "race1 activated.\nrace2 activated.\nrace3 activated.\nrace4 activated.\nJust doing binary things\n"
	if out := mustRun(t, target); out != want {
		t.Fatalf("after four concurrent installs: %q", out)
	}
}

// TestCrashConsistency kills the installer with SIGKILL at points spread
// over each stage of an install: restore, build, probe and swap. After
// each kill the target is a complete binary, the old or the new one, and
// the next install cleans up what the killed one left.
func TestCrashConsistency(t *testing.T) {
	setupE2E(t)
	root := t.TempDir()
	plug := filepath.Join(root, "crashplug")
	writePlugin(t, plug, "example.com/crashplug", "crashplug activated.")
	oldOut, newOut := "Just doing binary things\n", "crashplug activated.\nJust doing binary things\n"
	toolchains := filepath.Join(e2e.cacheDir, "go-selfcompile", "toolchains")
	target := filepath.Join(root, "bin", "example-abinary")

	// The stages, by the log line that starts each; the toolchain is
	// dropped from the cache before runs killed in the restore stage.
	stages := []struct {
		marker string
		points int
	}{
		{"Initializing workdir", 13},
		{"Compiling workdir", 13},
		{"Verifying", 12},
		{"Replacing binary", 12},
	}
	// install runs one install of a fresh copy of the old binary. With
	// kill set, it sends SIGKILL after the given delay from the moment the
	// stage's marker is logged. It returns when each stage started,
	// relative to the start, and when the process ended.
	install := func(stage int, delay time.Duration, kill bool) (marks []time.Duration, end time.Duration) {
		copyBinary(t, e2e.abinary, target)
		if stage == 0 {
			removeAll(toolchains)
		}
		cmd := exec.Command(target, "--plugin", plug)
		cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+e2e.cacheDir, "GOPROXY=off")
		stderr, _ := cmd.StderrPipe()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stderr)
		next := 0
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if next < len(stages) && strings.Contains(sc.Text(), stages[next].marker) {
				marks = append(marks, time.Since(start))
				if kill && next == stage {
					time.AfterFunc(delay, func() { cmd.Process.Signal(syscall.SIGKILL) })
				}
				next++
			}
		}
		err := cmd.Wait()
		if !kill && err != nil {
			t.Fatalf("install: %v\n%s", err, log.String())
		}
		return marks, time.Since(start)
	}

	// Two uninterrupted installs measure how long each stage takes (the
	// first also warms the build cache).
	newHash := ""
	var durations []time.Duration
	for range 2 {
		marks, end := install(0, 0, false)
		marks = append(marks, end)
		durations = durations[:0]
		for i := range stages {
			durations = append(durations, marks[i+1]-marks[i])
		}
		newHash = fileHash(t, target)
	}
	oldHash := fileHash(t, e2e.abinary)

	kills, sawNew := 0, 0
	for si, st := range stages {
		for p := range st.points {
			// From the stage's start to 1.2 times its length, so that the
			// last kills of a stage land in the next one.
			delay := durations[si] * time.Duration(p) * 12 / time.Duration(10*st.points)
			install(si, delay, true)
			kills++
			got := fileHash(t, target)
			if got != oldHash && got != newHash {
				t.Fatalf("kill in %q after %v left a binary that is neither the old nor the new one", st.marker, delay)
			}
			out, _, err := run(t, target, nil)
			if err != nil || (out != oldOut && out != newOut) {
				t.Fatalf("kill in %q after %v: the binary does not run as before or after: %v %q", st.marker, delay, err, out)
			}
			if got == newHash {
				sawNew++
			}
		}
	}
	t.Logf("%d kills over stages lasting %v; %d left the new binary", kills, durations, sawNew)
	if kills < 50 {
		t.Fatalf("only %d kill points", kills)
	}

	// The next install cleans up what the killed ones left beside the
	// binary and in the cache.
	install(-1, 0, false)
	entries, _ := os.ReadDir(filepath.Dir(target))
	for _, e := range entries {
		if e.Name() != "example-abinary" && e.Name() != ".example-abinary.selfcompile.lock" && !strings.HasPrefix(e.Name(), ".example-abinary.selfcompile-backup-") {
			t.Errorf("left beside the binary after the next install: %s", e.Name())
		}
	}
	if n := len(entries); n != 3 {
		t.Errorf("%d files beside the binary, want it, its lock and one backup", n)
	}
	if matches, _ := filepath.Glob(filepath.Join(toolchains, ".tmp-*")); len(matches) > 0 {
		t.Errorf("left in the cache after the next install: %q", matches)
	}
}

func copyBinary(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	tmp := dst + ".copy"
	if err := os.WriteFile(tmp, data, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

func removeAll(dir string) {
	makeWritable(dir)
	os.RemoveAll(dir)
}

// TestCompileCanceled: a canceled context stops the install and leaves the
// binary as it was.
func TestCompileCanceled(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	before := fileHash(t, target)
	sc := installer(t, target, nil)
	sc.Plugin("github.com/shazow/go-selfcompile/example/aplugin")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sc.CompileContext(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if fileHash(t, target) != before {
		t.Fatal("the binary changed")
	}
}

// syncBuffer is a bytes.Buffer that a child process's output and the test
// may use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
