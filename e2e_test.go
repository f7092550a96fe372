package selfcompile_test

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// The end-to-end tests drive the real thing: the go-selfcompile generator
// run on a copy of this repository, example/abinary built from it, and that
// binary installing plugins into itself with GOPROXY=off. One run shares
// one generated bundle, one example binary and one installer cache (under
// a private XDG_CACHE_HOME), so only the first install compiles the
// standard library.

const aplugin = "github.com/shazow/go-selfcompile/example/aplugin"

// e2e holds what the tests share.
var e2e struct {
	once     sync.Once
	err      error
	work     string // private directory of this test run
	repo     string // copy of this repository, with the bundle generated
	gen      string // the go-selfcompile binary
	abinary  string // example-abinary as built, never modified
	cacheDir string // XDG_CACHE_HOME for the installers
}

func TestMain(m *testing.M) {
	code := m.Run()
	if e2e.work != "" {
		makeWritable(e2e.work)
		os.RemoveAll(e2e.work)
	}
	os.Exit(code)
}

// setupE2E builds the generator, copies the repository, generates the
// example's bundle and builds example-abinary, once per test run.
func setupE2E(t *testing.T) {
	t.Helper()
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("end-to-end test: skipped with -short")
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
	work, err := os.MkdirTemp("", "selfcompile-e2e-")
	if err != nil {
		return err
	}
	e2e.work = work
	e2e.repo = filepath.Join(work, "repo")
	e2e.cacheDir = filepath.Join(work, "cache")
	root, err := os.Getwd()
	if err != nil {
		return err
	}
	if err := copyRepo(root, e2e.repo); err != nil {
		return err
	}
	e2e.gen = filepath.Join(work, "bin", "go-selfcompile")
	if out, err := command(e2e.repo, nil, "go", "build", "-o", e2e.gen, "./cmd/go-selfcompile"); err != nil {
		return fmt.Errorf("building the generator: %v\n%s", err, out)
	}
	// The fastest level: bundle size is not what these tests measure.
	if out, err := command(filepath.Join(e2e.repo, "example", "abinary"), nil, e2e.gen, "--level", "fastest", "-q"); err != nil {
		return fmt.Errorf("generating: %v\n%s", err, out)
	}
	e2e.abinary = filepath.Join(work, "bin", "example-abinary")
	if out, err := command(e2e.repo, nil, "go", "build", "-trimpath", "-ldflags", "-X main.version=1.2.3-e2e", "-o", e2e.abinary, "./example/abinary"); err != nil {
		return fmt.Errorf("building example-abinary: %v\n%s", err, out)
	}
	return nil
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
			if rel == ".git" || rel == "build" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if d.Name() == "selfcompile.bundle" || d.Name() == "selfcompile_bundle.go" || !d.Type().IsRegular() {
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
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}

// installedCopy gives the test its own copy of example-abinary.
func installedCopy(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "example-abinary")
	data, err := os.ReadFile(e2e.abinary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// run runs an installed binary as a user would, offline, with the shared
// installer cache.
func run(t *testing.T, bin string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = filepath.Dir(bin)
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+e2e.cacheDir, "GOPROXY=off")
	cmd.Env = append(cmd.Env, env...)
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

func fileHash(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// writePlugin writes a plugin module at dir whose init prints msg.
func writePlugin(t *testing.T, dir, modPath, msg string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"go.mod":    "module " + modPath + "\n\ngo 1.26\n",
		"plugin.go": fmt.Sprintf("package %s\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(%q) }\n", filepath.Base(modPath), msg),
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInstallAPlugin reproduces the 2015 transcript, offline.
func TestInstallAPlugin(t *testing.T) {
	setupE2E(t)
	bin := installedCopy(t)
	before := fileHash(t, bin)
	if out := mustRun(t, bin); out != "Just doing binary things\n" {
		t.Fatalf("before install: %q", out)
	}

	out, errOut, err := run(t, bin, nil, "--plugin", aplugin)
	if err != nil {
		t.Fatalf("install: %v\n%s%s", err, out, errOut)
	}
	if !strings.HasSuffix(out, "Success.\n") {
		t.Errorf("install output %q does not end with Success.", out)
	}
	for _, want := range []string{"Initializing workdir: ", "Compiling workdir: ", "Replacing binary: " + bin, "Cleaning up: "} {
		if !strings.Contains(errOut, "[selfcompile] ") || !strings.Contains(errOut, want) {
			t.Errorf("install log lacks %q:\n%s", want, errOut)
		}
	}

	if got := fileHash(t, bin); got == before {
		t.Fatal("the binary was not replaced")
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("mode after install = %v, want 0755", fi.Mode().Perm())
	}
	if out := mustRun(t, bin); out != "aplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after install: %q", out)
	}
	// -X main.version travels through the rebuild (a -trimpath binary does
	// not record -ldflags).
	if out := mustRun(t, bin, "--version"); !strings.Contains(out, "example-abinary 1.2.3-e2e") {
		t.Errorf("--version after install: %q", out)
	}
	// Nothing is left beside the binary but the lock file and one backup
	// of the previous binary, for rollback.
	entries, _ := os.ReadDir(filepath.Dir(bin))
	backups := 0
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), ".example-abinary.selfcompile-backup-"):
			backups++
			if fileHash(t, filepath.Join(filepath.Dir(bin), e.Name())) != before {
				t.Error("the backup is not the previous binary")
			}
		case e.Name() != "example-abinary" && e.Name() != ".example-abinary.selfcompile.lock":
			t.Errorf("left behind: %s", e.Name())
		}
	}
	if backups != 1 {
		t.Errorf("%d backups, want 1", backups)
	}
}

// TestInstallLocalPlugins installs two plugins from local directories, one
// after the other: the second install keeps the first.
func TestInstallLocalPlugins(t *testing.T) {
	setupE2E(t)
	bin := installedCopy(t)
	src := t.TempDir()
	writePlugin(t, filepath.Join(src, "pluga"), "example.com/pluga", "pluga activated.")
	writePlugin(t, filepath.Join(src, "plugb"), "example.com/plugb", "plugb activated.")

	mustRun(t, bin, "--plugin", filepath.Join(src, "pluga"))
	if out := mustRun(t, bin); out != "pluga activated.\nJust doing binary things\n" {
		t.Fatalf("after the first install: %q", out)
	}
	// A relative path, as a user types it.
	cmd := exec.Command(bin, "--plugin", "./plugb")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+e2e.cacheDir, "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("second install: %v\n%s", err, out)
	}
	if out := mustRun(t, bin); out != "pluga activated.\nplugb activated.\nJust doing binary things\n" {
		t.Fatalf("after the second install: %q", out)
	}
}

// TestFailedInstallKeepsBinary installs a plugin that does not compile:
// the binary stays byte-identical and the error names the plugin and why.
func TestFailedInstallKeepsBinary(t *testing.T) {
	setupE2E(t)
	bin := installedCopy(t)
	before := fileHash(t, bin)
	dir := filepath.Join(t.TempDir(), "broken")
	writePlugin(t, dir, "example.com/broken", "never")
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte("package broken\n\nvar x int = \"not a number\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := run(t, bin, nil, "--plugin", dir)
	if err == nil {
		t.Fatalf("install of a broken plugin succeeded:\n%s", out)
	}
	if strings.Contains(out, "Success.") {
		t.Errorf("a failed install printed Success.")
	}
	for _, want := range []string{"build failed for plugin " + dir, "cannot use \"not a number\"", "installed binary is unchanged"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error lacks %q:\n%s", want, errOut)
		}
	}
	if got := fileHash(t, bin); got != before {
		t.Fatal("a failed install changed the binary")
	}
	if out := mustRun(t, bin); out != "Just doing binary things\n" {
		t.Fatalf("after the failed install: %q", out)
	}
}

// makeWritable lets RemoveAll delete a tree that holds a module cache,
// whose directories the go command makes read-only.
func makeWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}
