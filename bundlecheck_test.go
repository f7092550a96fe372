package selfcompile_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// e2eLDFlags are the -ldflags of example-abinary's release build, which it
// gives its installs.
const e2eLDFlags = "-X main.version=1.2.3-e2e"

// linkedRepo returns a copy of the test run's repository, bundle
// generated, made of hard links: a test replaces a file it changes
// (replaceFile), never writes into one.
func linkedRepo(t *testing.T, dir string) string {
	t.Helper()
	repo := filepath.Join(dir, "repo")
	if out, err := exec.Command("cp", "-al", e2e.repo, repo).CombinedOutput(); err != nil {
		t.Fatalf("cp -al: %v\n%s", err, out)
	}
	return repo
}

// replaceFile gives path new content in a new file, leaving the file it
// was linked to as it was.
func replaceFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path+".new", []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path+".new", path); err != nil {
		t.Fatal(err)
	}
}

// verify runs go-selfcompile verify on bin with the installers' cache.
func verify(bin string) (string, error) {
	out, err := command(filepath.Dir(bin), nil, e2e.gen, "verify", "-q", "--ldflags", e2eLDFlags, "--cache-dir", filepath.Join(e2e.cacheDir, "go-selfcompile"), bin)
	return string(out), err
}

// A release whose bundle does not rebuild it is refused at its first
// install, before anything is built into it, with ErrStaleBundle naming
// what differs, and the binary is unchanged: one built after its main.go
// changed past go generate, one linked with -ldflags "-s -w" that its
// installs are not given. go-selfcompile verify, which vendors run on a
// release, fails on both and passes on the release as built.
func TestStaleBundleRefused(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	dir := tempDir(t)
	repo := linkedRepo(t, dir)
	main := filepath.Join(repo, "example", "abinary", "main.go")
	src, _ := os.ReadFile(main)
	const line = `fmt.Println("Just doing binary things")`
	if !strings.Contains(string(src), line) {
		t.Fatal("main.go has no line to edit")
	}
	cases := []struct{ name, bin, says string }{
		{"main.go's code edited after go generate", filepath.Join(dir, "code", "example-abinary"), "Go code of package github.com/shazow/go-selfcompile/example/abinary"},
		{"main.go's string edited after go generate", filepath.Join(dir, "string", "example-abinary"), "its data differs"},
		{`linked with -ldflags "-s -w"`, filepath.Join(dir, "stripped", "example-abinary"), `"-s -w"`},
	}
	for i, edit := range []string{line + "\n\tfmt.Println(len(os.Args))", `fmt.Println("Just doing edited binary things")`} {
		replaceFile(t, main, strings.Replace(string(src), line, edit, 1))
		if err := buildHost(repo, "./example/abinary", cases[i].bin, "-ldflags", e2eLDFlags); err != nil {
			t.Fatal(err)
		}
	}
	if err := buildHost(e2e.repo, "./example/abinary", cases[2].bin, "-ldflags", "-s -w "+e2eLDFlags); err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		check := unchanged(t, c.bin)
		_, err := installer(t, c.bin).Apply(context.Background(), selfcompile.Change{Add: []string{aplugin}})
		var se *selfcompile.StaleBundleError
		if !errors.Is(err, selfcompile.ErrStaleBundle) || !errors.As(err, &se) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: install: %v; want ErrStaleBundle saying %s", c.name, err, c.says)
		}
		check()
		if _, errOut, err := run(t, c.bin, nil, "plugin", "add", aplugin); err == nil || !strings.Contains(errOut, "is not what the bundle it carries builds") {
			t.Errorf("%s: plugin add: %v\n%s", c.name, err, errOut)
		}
		check()
		if out, err := verify(c.bin); err == nil || !strings.Contains(out, c.says) {
			t.Errorf("%s: verify passed or said otherwise: %v\n%s", c.name, err, out)
		}
	}
	if out, err := verify(e2e.abinary); err != nil || !strings.Contains(out, "byte for byte") {
		t.Errorf("verify of the release as built: %v\n%s", err, out)
	}
	if errors.Is(&selfcompile.StaleBundleError{}, selfcompile.ErrStale) {
		t.Error("a stale bundle matches ErrStale, the error of an executable replaced on disk")
	}
}

// A release built in a git checkout at a tag keeps, through an install,
// what go version -m reports of it: the module's path and version and the
// checkout's revision; inspect shows them. The install's check finds the
// release identical to what its bundle builds, the checkout's settings
// included.
func TestRebuildKeepsIdentity(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	dir := tempDir(t)
	repo := linkedRepo(t, dir)
	git := func(args ...string) string {
		t.Helper()
		out, err := command(repo, []string{"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_SYSTEM=/dev/null"},
			"git", append([]string{"-c", "user.name=Vendor", "-c", "user.email=vendor@example.com"}, args...)...)
		if err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	git("add", "-A")
	git("commit", "-q", "-m", "release")
	git("tag", "v1.5.0")
	rev := git("rev-parse", "HEAD")
	bin := filepath.Join(dir, "bin", "example-abinary")
	if err := buildHost(repo, "./example/abinary", bin, "-buildvcs=true", "-ldflags", e2eLDFlags); err != nil {
		t.Fatal(err)
	}
	want := []string{"mod\tgithub.com/shazow/go-selfcompile\tv1.5.0", "vcs.revision=" + rev, "vcs.modified=false"}
	versionM := func() string {
		out, err := command(dir, nil, "go", "version", "-m", bin)
		if err != nil {
			t.Fatalf("go version -m: %v\n%s", err, out)
		}
		return string(out)
	}
	for _, w := range want {
		if v := versionM(); !strings.Contains(v, w) {
			t.Fatalf("the release built at the tag lacks %q:\n%s", w, v)
		}
	}
	mustRun(t, bin, "plugin", "add", aplugin)
	if out := mustRun(t, bin); !strings.Contains(out, "aplugin") {
		t.Fatalf("the plugin is not in the new binary:\n%s", out)
	}
	v := versionM()
	for _, w := range want {
		if !strings.Contains(v, w) {
			t.Errorf("the rebuilt binary lacks %q:\n%s", w, v)
		}
	}
	out, err := command(dir, nil, e2e.gen, "inspect", bin)
	if err != nil || !strings.Contains(string(out), "v1.5.0") || !strings.Contains(string(out), "git "+rev[:12]) {
		t.Errorf("inspect: %v\n%s", err, out)
	}
}
