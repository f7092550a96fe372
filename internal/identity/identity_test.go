package identity

import (
	"context"
	"debug/buildinfo"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/gocmd"
)

// A program built with the flags of an identity reports it in go version
// -m: the version of its main module and the checkout's settings, in place
// of "(devel)" and none; the rest of its build info is the build's own, and
// so is its build cache: nothing is compiled again for -toolexec.
func TestFlagsKeepIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("builds programs")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	dir := t.TempDir()
	mod := filepath.Join(dir, "hello")
	os.MkdirAll(mod, 0o755)
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/hello\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\nreplace example.com/lib => ./lib\n"), 0o644)
	os.WriteFile(filepath.Join(mod, "main.go"), []byte("package main\n\nimport _ \"example.com/lib\"\n\nfunc main() {}\n"), 0o644)
	os.MkdirAll(filepath.Join(mod, "lib"), 0o755)
	os.WriteFile(filepath.Join(mod, "lib", "go.mod"), []byte("module example.com/lib\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(mod, "lib", "lib.go"), []byte("package lib\n"), 0o644)
	g := gocmdFor(gobin, mod)
	id := ID{Version: "v1.4.0", Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: strings.Repeat("ab", 20)},
		{Key: "vcs.time", Value: "2026-11-02T10:00:00Z"}, {Key: "vcs.modified", Value: "false"},
	}, Replaced: map[string]string{"example.com/lib": "/home/vendor/src/hello/lib"}}
	args, env, err := Flags(context.Background(), g, id, filepath.Join(dir, "tools"), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Run(context.Background(), "build", "-trimpath", "-o", filepath.Join(dir, "plain.bin"), "."); err != nil {
		t.Fatal(err)
	}
	g.Env = append(g.Env, env...)
	out := filepath.Join(dir, "hello.bin")
	var compiled []string
	if _, err := g.Stream(context.Background(), func(l string) { compiled = append(compiled, l) }, append(append([]string{"build", "-v", "-trimpath"}, args...), "-o", out, ".")...); err != nil {
		t.Fatal(err)
	}
	if len(compiled) > 0 { // the cache keys are those of a build without it
		t.Errorf("the build with -toolexec compiled again what the one without it had compiled: %q", compiled)
	}
	bi, err := buildinfo.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bi.Main.Path != "example.com/hello" || bi.Main.Version != "v1.4.0" {
		t.Errorf("main module %s %s, want example.com/hello v1.4.0", bi.Main.Path, bi.Main.Version)
	}
	if got := Of(bi); got.String() != id.String() || len(got.Settings) != 4 {
		t.Errorf("identity %q (%d settings), want %q", got, len(got.Settings), id)
	}
	if len(bi.Deps) != 1 || bi.Deps[0].Replace == nil || bi.Deps[0].Replace.Path != "/home/vendor/src/hello/lib" {
		t.Errorf("the replaced module's directory is not the release's:\n%s", bi)
	}
	if !strings.Contains(bi.String(), "build\t-trimpath=true\n") {
		t.Errorf("the build's own settings are gone:\n%s", bi)
	}
	vm, _ := exec.Command(gobin, "version", "-m", out).Output()
	if !strings.Contains(string(vm), "mod\texample.com/hello\tv1.4.0") || !strings.Contains(string(vm), "vcs.revision="+strings.Repeat("ab", 20)) {
		t.Errorf("go version -m:\n%s", vm)
	}

	// The program kept the tools' versions, and the next build, which
	// reads them from there, has the same cache keys: it compiles nothing
	// and links the same binary (its build ID is the link's cache key).
	kept, _ := filepath.Glob(filepath.Join(dir, "tools", "version-*"))
	linkKept := ""
	for _, f := range kept {
		if data, _ := os.ReadFile(f); strings.HasPrefix(string(data), "link version ") {
			linkKept = f
		}
	}
	if len(kept) < 2 || linkKept == "" { // compile and link at least
		t.Fatalf("the tools' versions kept: %q", kept)
	}
	rebuild := func() string {
		t.Helper()
		os.Remove(out)
		compiled = nil
		if _, err := g.Stream(context.Background(), func(l string) { compiled = append(compiled, l) }, append(append([]string{"build", "-v", "-trimpath"}, args...), "-o", out, ".")...); err != nil {
			t.Fatal(err)
		}
		id, err := exec.Command(gobin, "tool", "buildid", out).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(id))
	}
	first, _ := exec.Command(gobin, "tool", "buildid", out).Output()
	if second := rebuild(); len(compiled) > 0 || second != strings.TrimSpace(string(first)) {
		t.Errorf("a build with the tools' versions kept compiled %q and linked build ID %s, the build before %s", compiled, second, first)
	}
	if bi, err := buildinfo.ReadFile(out); err != nil || bi.Main.Version != "v1.4.0" {
		t.Errorf("the second build's main module: %v %v", bi, err)
	}
	// The build takes the kept answer: another one changes the link's key.
	os.WriteFile(linkKept, []byte("link version go0.0.1-kept\n"), 0o600)
	if third := rebuild(); third == strings.TrimSpace(string(first)) {
		t.Errorf("the link's kept version was not used: build ID %s again", third)
	}
}

func gocmdFor(bin, dir string) gocmd.Go {
	return gocmd.Go{Bin: bin, Dir: dir, Env: append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")}
}
