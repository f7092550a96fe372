package selfcompile_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/modfile"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

const aplugin = "github.com/shazow/go-selfcompile/example/aplugin"

// compiling ends the log line an install writes as it starts go build:
// a run whose standard error lacks it built nothing.
const compiling = " Compiling\n"

// e2e holds what the tests share.
var e2e struct {
	once     sync.Once
	err      error
	work     string // private directory of this test run, under build/ (creating files in /tmp is slow on some machines)
	repo     string // copy of this repository, with the bundle generated
	gen      string // the go-selfcompile binary
	abinary  string // example-abinary as built, never modified
	cacheDir string // XDG_CACHE_HOME for the installers
	seed     string // a copy of cacheDir as setup left it, which no install changes
	modcache string // the go command's module cache
	proxy    string // the GOPROXY of the go commands the tests run themselves
}

// TestMain makes this process a user without network: the installers it
// runs in process (installer) and the ones it starts (run) find
// GOPROXY=off, so that tests of them may run in parallel, which
// t.Setenv forbids. The go commands the tests run themselves (command)
// get the GOPROXY the tests were started with. The user's cache directory
// is one of the tests' own (testutil.PrivateUserCache): the examples plan
// with the default cache, which is the user's; the run fails if this test
// binary was remembered in the user's cache nevertheless.
func TestMain(m *testing.M) {
	e2e.proxy = os.Getenv("GOPROXY")
	os.Setenv("GOPROXY", "off")
	code := testutil.RunPrivate(m)
	if e2e.work != "" {
		removeAll(e2e.work)
	}
	os.Exit(code)
}

// setupE2E builds the generator, copies the repository, generates the
// example's bundle and builds example-abinary, once per test run. It skips
// the test unless the tests were built with the tag e2e (make test), so
// that go test ./... is the fast tier.
func setupE2E(t *testing.T) {
	t.Helper()
	if !e2eTests {
		t.Skip("end-to-end test: runs with go test -tags e2e (make test)")
	}
	if runtime.GOOS == "windows" {
		t.Skip("the end-to-end tests run on Unix")
	}
	e2e.once.Do(func() { e2e.err = buildE2E() })
	if e2e.err != nil {
		t.Fatal(e2e.err)
	}
}

func buildE2E() error {
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	os.MkdirAll(filepath.Join(root, "build"), 0o755)
	if e2e.work, err = os.MkdirTemp(filepath.Join(root, "build"), "e2e-"); err != nil {
		return err
	}
	e2e.repo = filepath.Join(e2e.work, "repo")
	e2e.cacheDir = filepath.Join(e2e.work, "cache")
	if err := copyRepo(root, e2e.repo); err != nil {
		return err
	}
	out, err := command(e2e.repo, nil, "go", "env", "GOMODCACHE")
	if err != nil {
		return fmt.Errorf("go env: %v\n%s", err, out)
	}
	e2e.modcache = strings.TrimSpace(string(out))
	e2e.gen = filepath.Join(e2e.work, "bin", "go-selfcompile")
	if out, err := command(e2e.repo, nil, "go", "build", "-o", e2e.gen, "./cmd/go-selfcompile"); err != nil {
		return fmt.Errorf("building the generator: %v\n%s", err, out)
	}
	// The fastest level: bundle size is not what these tests measure.
	if out, err := command(filepath.Join(e2e.repo, "example", "abinary"), nil, e2e.gen, "--level", "fastest", "-q"); err != nil {
		return fmt.Errorf("generating: %v\n%s", err, out)
	}
	e2e.abinary = filepath.Join(e2e.work, "bin", "example-abinary")
	if err := buildHost(e2e.repo, "./example/abinary", e2e.abinary, "-ldflags", "-X main.version=1.2.3-e2e"); err != nil {
		return err
	}
	// A dry run restores the toolchain into the shared cache, once.
	cmd := exec.Command(e2e.abinary, "plugin", "add", "--dry-run", aplugin)
	cmd.Env = userEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("dry run: %v\n%s", err, out)
	}
	// Tests that need a cache of their own copy this one: the shared
	// cache changes under a copy while the tests beside them install.
	e2e.seed = filepath.Join(e2e.work, "seedcache")
	if out, err := exec.Command("cp", "-a", e2e.cacheDir, e2e.seed).CombinedOutput(); err != nil {
		return fmt.Errorf("copying the cache: %v\n%s", err, out)
	}
	return nil
}

// buildHost builds a host program with go build -trimpath
// -buildvcs=false, as a vendor would for binaries that rebuild to the same
// bytes, into the installers' shared build cache.
func buildHost(dir, pkg, out string, flags ...string) error {
	gocache := filepath.Join(e2e.cacheDir, "go-selfcompile", "build")
	if err := os.MkdirAll(gocache, 0o700); err != nil {
		return err
	}
	os.Chmod(e2e.cacheDir, 0o700)
	args := append(append([]string{"build", "-trimpath", "-buildvcs=false"}, flags...), "-o", out, pkg)
	if out, err := command(dir, []string{"GOCACHE=" + gocache}, "go", args...); err != nil {
		return fmt.Errorf("building %s: %v\n%s", pkg, err, out)
	}
	return nil
}

// failpointTag is the build tag that compiles failpoints into a host
// (internal/failpoint). Only the hosts of the tests that stop an install
// at one are built with it; an install rebuilds a host with the tags it
// records, so their rebuilds keep it.
const failpointTag = "selfcompile_failpoint"

// failpointBuild is what failpointHost built, once per test run.
var failpointBuild struct {
	once sync.Once
	bin  string
	err  error
}

// failpointHost returns example-abinary built as setupE2E builds it, plus
// failpointTag. Tests read it, and copy it.
func failpointHost(t *testing.T) string {
	t.Helper()
	failpointBuild.once.Do(func() {
		failpointBuild.bin = filepath.Join(e2e.work, "bin", "example-abinary-failpoint")
		failpointBuild.err = buildHost(e2e.repo, "./example/abinary", failpointBuild.bin, "-tags", failpointTag, "-ldflags", "-X main.version=1.2.3-e2e")
	})
	if failpointBuild.err != nil {
		t.Fatal(failpointBuild.err)
	}
	return failpointBuild.bin
}

// failpointCopy gives the test its own copy of failpointHost's binary.
func failpointCopy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(tempDir(t), "bin", "example-abinary")
	copyBinary(t, failpointHost(t), bin)
	return bin
}

// copyRepo copies the module at src to dst, leaving out version control,
// build output and generated files: what a fresh clone has.
func copyRepo(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if rel == ".git" || rel == "build" || d.Name() == "selfcompilebundle" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		// In a git worktree .git is a file naming the repository: a copy of
		// it made the tests' git commands (TestRebuildKeepsIdentity's
		// commit and tag) write to the worktree's branch and tags.
		if strings.HasPrefix(d.Name(), "selfcompile_plugins.") || !d.Type().IsRegular() || rel == ".git" {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
}

// command runs name in dir with the environment plus env and returns its
// combined output.
func command(dir string, env []string, name string, args ...string) ([]byte, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = os.Environ()
	if os.Getenv("GOPROXY") == "off" { // as TestMain left it, not a test's own proxy
		cmd.Env = append(cmd.Env, "GOPROXY="+e2e.proxy) // "" is unset: go.env's
	}
	cmd.Env = append(cmd.Env, env...)
	return cmd.CombinedOutput()
}

// tempDir returns a new directory under the test run's, removed when the
// test ends.
func tempDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(e2e.work, "t-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAll(dir) })
	return dir
}

// installedCopy gives the test its own copy of example-abinary.
func installedCopy(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(tempDir(t), "bin", "example-abinary")
	copyBinary(t, e2e.abinary, bin)
	return bin
}

func copyBinary(t testing.TB, src, dst string) {
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

// userEnv is the environment of an installer run as a user would: the
// shared cache, no network.
func userEnv(env ...string) []string {
	return append(append(os.Environ(), "XDG_CACHE_HOME="+e2e.cacheDir, "GOPROXY=off"), env...)
}

// run runs an installed binary as a user would, offline, with the shared
// installer cache, plus env.
func run(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = userEnv(env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// mustRun runs bin and fails the test unless it exits 0.
func mustRun(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, errOut, err := run(t, bin, nil, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// installer returns a SelfCompile that replaces target, as example-abinary
// would, but in this process, so that tests can inspect the typed error.
// It is offline (TestMain): a test that gives it a proxy sets GOPROXY.
func installer(t *testing.T, target string) *selfcompile.SelfCompile {
	t.Helper()
	return &selfcompile.SelfCompile{
		Target:       target,
		LDFlags:      e2eLDFlags, // as example-abinary gives its installs
		CacheDir:     filepath.Join(e2e.cacheDir, "go-selfcompile"),
		ProbeTimeout: 5 * time.Second,
		Logger:       log.New(io.Discard, "", 0),
	}
}

// unchanged returns a check that fails the test unless the file at p is
// then byte for byte what it is now: what a refused or failed change must
// leave of a binary.
func unchanged(t testing.TB, p string) (check func()) {
	t.Helper()
	before := fileHash(t, p)
	return func() {
		t.Helper()
		if fileHash(t, p) != before {
			t.Fatalf("%s changed", p)
		}
	}
}

func fileHash(t testing.TB, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(data))
}

// writePlugin writes a plugin module at dir whose init prints msg.
func writePlugin(t *testing.T, dir, modPath, msg string) {
	t.Helper()
	writeFiles(t, dir, map[string]string{
		"go.mod":    "module " + modPath + "\n\ngo 1.26\n",
		"plugin.go": fmt.Sprintf("package %s\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(%q) }\n", filepath.Base(modPath), msg),
	})
}

// writeFiles writes files (slash names to contents) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	testutil.WriteFiles(t, dir, files)
}

// removeAll removes a tree that may hold a module cache, whose directories
// the go command makes read-only.
func removeAll(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
	os.RemoveAll(dir)
}

// onlyBeside fails unless the directory of bin holds bin, its lock file,
// and backups of it: nothing else is left behind.
func onlyBeside(t *testing.T, bin string, backups int) {
	t.Helper()
	entries, _ := os.ReadDir(filepath.Dir(bin))
	n := 0
	for _, e := range entries {
		switch name := e.Name(); {
		case strings.HasPrefix(name, "."+filepath.Base(bin)+".selfcompile-backup-"):
			n++
		case name != filepath.Base(bin) && name != "."+filepath.Base(bin)+".selfcompile.lock":
			t.Errorf("left beside the binary: %s", name)
		}
	}
	if n != backups {
		t.Errorf("%d backups beside the binary, want %d", n, backups)
	}
}

// partFiles returns the names of the files of a part of the bundle of a
// kind that the executable bin carries.
func partFiles(t *testing.T, bin, kind, part string) []string {
	t.Helper()
	f, err := os.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	sections, err := bundle.Locate(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sections {
		br, err := bundle.Open(io.NewSectionReader(s, 0, s.Size()))
		if err != nil {
			t.Fatal(err)
		}
		defer br.Close()
		if br.Manifest.Kind != kind {
			continue
		}
		dir := t.TempDir()
		for _, p := range br.Manifest.Parts {
			if p.Name != part {
				br.Skip(p.Name)
				continue
			}
			if err := br.Restore(part, dir, nil); err != nil {
				t.Fatal(err)
			}
			var names []string
			filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(dir, p)
					names = append(names, filepath.ToSlash(rel))
				}
				return nil
			})
			slices.Sort(names)
			return names
		}
	}
	t.Fatalf("%s carries no %s part in a %s bundle", bin, part, kind)
	return nil
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
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = userEnv(env...)
	return startCommand(t, cmd)
}

// startCommand starts cmd, which is killed when the test ends if it runs
// still.
func startCommand(t *testing.T, cmd *exec.Cmd) *installRun {
	t.Helper()
	r := &installRun{cmd: cmd, done: make(chan struct{})}
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
	return bin, buildHost(repo, "./example/abinary", bin, "-ldflags", "-X main.version=2.0.0-e2e") // the version it gives its installs
}

// required returns the version of module path that this module's go.mod
// requires: the version example-abinary's build list has, as this module's
// requirements are its whole build list.
func required(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range f.Require {
		if r.Mod.Path == path {
			return r.Mod.Version
		}
	}
	t.Fatalf("go.mod does not require %s", path)
	return ""
}
