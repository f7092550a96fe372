package selfcompile_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// plugin writes a module with the given files and returns its directory.
func plugin(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(tempDir(t), "plugin")
	writeFiles(t, dir, files)
	return dir
}

const pluginMod = "module example.com/hostile\n\ngo 1.26\n"

func lit(s string) func(*testing.T) string { return func(*testing.T) string { return s } }

func dir(files map[string]string) func(*testing.T) string {
	return func(t *testing.T) string { return plugin(t, files) }
}

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
		{"no such package in the host", lit("github.com/shazow/go-selfcompile/nope"), selfcompile.ErrInvalidPlugin, "no such package in the host module", 0},
		{"no such module, offline", lit("example.com/nonexistent"), selfcompile.ErrNeedsNetwork, "GOPROXY=off", 0},
		{"no such module version, offline", lit("example.com/nonexistent@v1.0.0"), selfcompile.ErrNeedsNetwork, "example.com/nonexistent@v1.0.0", 0},
		{"missing directory", func(t *testing.T) string { return filepath.Join(tempDir(t), "missing") }, selfcompile.ErrInvalidPlugin, "not found", 0},
		{"a file, not a directory", func(t *testing.T) string {
			return filepath.Join(plugin(t, map[string]string{"go.mod": pluginMod}), "go.mod")
		}, selfcompile.ErrInvalidPlugin, "not a directory", 0},
		{"folder outside any module", func(t *testing.T) string {
			d := t.TempDir() // not under this repository's go.mod
			writeFiles(t, d, map[string]string{"p.go": "package p\n"})
			return d
		}, selfcompile.ErrInvalidPlugin, "not inside a Go module", 0},
		{"go.mod without module line", dir(map[string]string{"go.mod": "go 1.26\n", "p.go": "package p\n"}), selfcompile.ErrInvalidPlugin, "no module line", 0},
		{"invalid module path", dir(map[string]string{"go.mod": "module ../evil\n", "p.go": "package p\n"}), selfcompile.ErrInvalidPlugin, "not valid", 0},
		{"no Go files", dir(map[string]string{"go.mod": pluginMod, "README": "hi"}), selfcompile.ErrInvalidPlugin, "no Go files", 0},
		{"only test files", dir(map[string]string{"go.mod": pluginMod, "p_test.go": "package hostile\n"}), selfcompile.ErrInvalidPlugin, "no Go files (tests aside)", 0},
		{"main package from a folder", dir(map[string]string{"go.mod": pluginMod, "main.go": "package main\n\nfunc main() {}\n"}), selfcompile.ErrInvalidPlugin, "main package", 0},
		{"the host module's own folder", func(t *testing.T) string { return filepath.Join(e2e.repo, "example", "aplugin") }, selfcompile.ErrInvalidPlugin, "part of the host module", 0},
		{"syntax error", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nfunc init() {\n"}), selfcompile.ErrBuild, "syntax error", 0},
		{"type error", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nvar x int = \"s\"\n"}), selfcompile.ErrBuild, "cannot use \"s\"", 0},
		{"imports a missing module, offline", dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nimport _ \"example.com/missing/dep\"\n"}), selfcompile.ErrNeedsNetwork, "example.com/missing/dep", 0},
		{"panics in init", dir(withInit(`panic("plugin exploded")`)), selfcompile.ErrVerify, "plugin exploded", 0},
		{"exits 0 in init", dir(withInit(`os.Exit(0)`)), selfcompile.ErrVerify, "without answering", 0},
		{"exits 3 in init", dir(withInit(`os.Exit(3)`)), selfcompile.ErrVerify, "exit status 3", 0},
		{"hangs in init", dir(withInit(`time.Sleep(time.Hour)`)), selfcompile.ErrVerify, "did not answer within 2s", 2 * time.Second},
	}
	target := installedCopy(t)
	before := fileHash(t, target)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := installer(t, target)
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
	sc := installer(t, target)
	bad := dir(map[string]string{"go.mod": pluginMod, "p.go": "package hostile\n\nvar x int = \"s\"\n"})(t)
	sc.Plugin(bad)
	if err := sc.Compile(); !errors.As(err, &be) || len(be.Plugins) != 1 || be.Plugins[0] != bad {
		t.Errorf("BuildError does not name the plugin: %#v", err)
	}
	var ve *selfcompile.VerifyError
	sc = installer(t, target)
	sc.Plugin(dir(withInit(`panic("x")`))(t))
	if err := sc.Compile(); !errors.As(err, &ve) || len(ve.Plugins) != 1 || ve.Plugins[0] != "example.com/hostile" {
		t.Errorf("VerifyError does not name the plugin: %#v", err)
	}
	var ne *selfcompile.NetworkError
	sc = installer(t, target)
	sc.Plugin("example.com/nonexistent@v1.0.0")
	if err := sc.Compile(); !errors.As(err, &ne) || ne.Module != "example.com/nonexistent" || ne.Version != "v1.0.0" || len(ne.Plugins) != 1 {
		t.Errorf("NetworkError does not name the plugin and module: %#v", err)
	}
	onlyBeside(t, target, 0)
}

// run is an installer process that a test watches: its output as it
// comes, and the failpoint it pauses at.
type installRun struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr syncBuffer
	done           chan struct{}
	err            error
}

// start starts bin with args as a user would, plus env.
func start(t *testing.T, bin string, env []string, args ...string) *installRun {
	t.Helper()
	r := &installRun{done: make(chan struct{})}
	r.cmd = exec.Command(bin, args...)
	r.cmd.Dir = filepath.Dir(bin)
	r.cmd.Env = userEnv(env...)
	r.cmd.Stdout, r.cmd.Stderr = &r.stdout, &r.stderr
	r.stdin, _ = r.cmd.StdinPipe()
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.err = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() { r.cmd.Process.Kill(); <-r.done })
	return r
}

// waitFor waits until the process prints s on stderr, and fails the test
// if it ends first.
func (r *installRun) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(2 * time.Minute)
	for !strings.Contains(r.stderr.String(), s) {
		select {
		case <-r.done:
			if strings.Contains(r.stderr.String(), s) {
				return
			}
			t.Fatalf("the installer ended (%v) without printing %q:\n%s%s", r.err, s, r.stdout.String(), r.stderr.String())
		case <-deadline:
			t.Fatalf("the installer did not print %q:\n%s", s, r.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// resume lets a process paused at a failpoint go on.
func (r *installRun) resume() { r.stdin.Write([]byte("\n")) }

// wait waits for the process to end and returns how it ended.
func (r *installRun) wait() error {
	<-r.done
	return r.err
}

// TestLock: a second installer of the same executable fails at once with
// ErrLocked when asked not to wait, and otherwise waits, says so, and then
// builds on what the first one installed; trimming or purging the cache
// fails with ErrLocked meanwhile. The first holds the lock paused
// at a failpoint, so no timing is involved.
func TestLock(t *testing.T) {
	setupE2E(t)
	target := installedCopy(t)
	slow := filepath.Join(tempDir(t), "slow")
	writePlugin(t, slow, "example.com/slow", "slow activated.")
	first := start(t, target, []string{"GO_SELFCOMPILE_FAILPOINT=verify:pause"}, "--plugin", slow)
	first.waitFor(t, "selfcompile: failpoint verify pause")

	sc := installer(t, target)
	sc.NoWait = true
	sc.Plugin(aplugin)
	if err := sc.Compile(); !errors.Is(err, selfcompile.ErrLocked) {
		t.Fatalf("NoWait install during another: %v, want ErrLocked", err)
	}
	if _, err := sc.TrimCache(context.Background()); !errors.Is(err, selfcompile.ErrLocked) {
		t.Fatalf("TrimCache during an install: %v, want ErrLocked", err)
	}
	if err := sc.PurgeCache(); !errors.Is(err, selfcompile.ErrLocked) {
		t.Fatalf("PurgeCache during an install: %v, want ErrLocked", err)
	}

	var logs syncBuffer
	sc = installer(t, target)
	sc.Logger.SetOutput(&logs)
	sc.Plugin(aplugin)
	second := make(chan error)
	go func() { second <- sc.Compile() }()
	for !strings.Contains(logs.String(), "Waiting for another install of "+target) {
		select {
		case err := <-second:
			t.Fatalf("the second install did not wait: %v\n%s", err, logs.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	first.resume()
	if err := first.wait(); err != nil {
		t.Fatalf("first install: %v\n%s", err, first.stderr.String())
	}
	if err := <-second; err != nil {
		t.Fatalf("waiting install: %v\n%s", err, logs.String())
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
	var runs []*installRun
	for _, name := range []string{"race1", "race2", "race3", "race4"} {
		d := filepath.Join(tempDir(t), name)
		writePlugin(t, d, "example.com/"+name, name+" activated.")
		runs = append(runs, start(t, target, nil, "--plugin", d))
	}
	for i, r := range runs {
		if err := r.wait(); err != nil {
			t.Errorf("installer %d: %v\n%s", i, err, r.stderr.String())
		}
	}
	want := "race1 activated.\nrace2 activated.\nrace3 activated.\nrace4 activated.\nJust doing binary things\n"
	if out := mustRun(t, target); out != want {
		t.Fatalf("after four concurrent installs: %q", out)
	}
}

// TestCanceledDuringBuild sends SIGINT, then SIGTERM, to an installer while
// the go command compiles: each install ends with an error that says
// nothing changed, exit code 130, the binary unchanged, and no workdir,
// stage or go-build directory left behind. The plugin has a package that
// takes seconds to compile, so the signal lands while the go command works:
// the test checks that its go-build directory exists when it sends it.
func TestCanceledDuringBuild(t *testing.T) {
	setupE2E(t)
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
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			target := installedCopy(t)
			before := fileHash(t, target)
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
			if fileHash(t, target) != before {
				t.Fatal("the binary changed")
			}
			onlyBeside(t, target, 0)
			if left := goBuildDirs(cache); len(left) > 0 {
				t.Errorf("go-build directories left: %q", left)
			}
			if entries, _ := os.ReadDir(work); len(entries) > 0 {
				t.Errorf("left in the work directory: %v", entries)
			}
		})
	}
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
	target := installedCopy(t)
	before := fileHash(t, target)
	sc := installer(t, target)
	sc.Plugin(aplugin)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := sc.CompileContext(ctx)
	if !errors.Is(err, selfcompile.ErrCanceled) || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was changed") {
		t.Fatalf("err = %v, want ErrCanceled and context.Canceled", err)
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
