package toolchain

import (
	"go/build/constraint"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// never leaves out only what no build for the platform reads: file names
// as go/build reads them, and //go:build lines false whatever the tags
// that are not the platform's.
func TestPlatformNever(t *testing.T) {
	linux := platform{"linux", "amd64", 26}
	for name, want := range map[string]bool{
		"asm_amd64.s":             false,
		"asm_arm64.s":             true,
		"race_linux.syso":         false,
		"race_darwin_arm64.syso":  true,
		"zerrors_linux_amd64.go":  false,
		"zerrors_linux_arm64.go":  true,
		"zerrors_darwin_amd64.go": true,
		"file_unix.go":            false, // "unix" is no GOOS in a file name
		"tables15.0.0.go":         false,
		"os_android.go":           true,
		"doc.md":                  false,
		"gcc_linux_arm64.c":       false, // C files are kept: a header may include them
	} {
		if got := linux.never(filepath.Join(t.TempDir(), name)); got != want {
			t.Errorf("never(%s) = %v, want %v", name, got, want)
		}
	}
	for line, want := range map[string]bool{
		"//go:build arm64":                      true,
		"//go:build amd64 && !purego":           false,
		"//go:build !amd64":                     true,
		"//go:build unix && !cgo":               false,
		"//go:build windows || (linux && 386)":  true,
		"//go:build (linux && amd64) || ignore": false,
		"//go:build android":                    true,
		"//go:build boringcrypto && !cgo":       false,
		"//go:build !go1.16":                    true,  // older releases' tables
		"//go:build go1.21 && !go1.27":          false, // go1.26 sets go1.1 to go1.26
		"//go:build go1.27":                     true,
		"//go:build go1.26":                     false,
		"//go:build go1.026":                    false, // not a release tag: free
	} {
		expr, err := constraint.Parse(line)
		if err != nil {
			t.Fatal(err)
		}
		if got := !linux.possible(expr); got != want {
			t.Errorf("%s: never = %v, want %v", line, got, want)
		}
	}
	if !(platform{"android", "arm64", 26}).possible(mustParse(t, "//go:build linux && arm64")) {
		t.Error("a linux file is left out of an android toolchain")
	}
	if !(platform{"linux", "amd64", -1}).possible(mustParse(t, "//go:build !go1.16")) {
		t.Error("a development toolchain, whose release tags are not known, leaves out a file for older releases")
	}
	for v, want := range map[string]int{"go1.26.8": 26, "go1.26": 26, "go1.27rc1": -1, "devel go1.27-abc": -1, "go2": -1} {
		if got := goMinor(v); got != want {
			t.Errorf("goMinor(%q) = %d, want %d", v, got, want)
		}
	}
}

func mustParse(t *testing.T, line string) constraint.Expr {
	expr, err := constraint.Parse(line)
	if err != nil {
		t.Fatal(err)
	}
	return expr
}

// The pruned toolchain carries no other platform's files, nothing only
// Go's own commands import, and no boringcrypto objects unless asked.
func TestPruneLeavesOut(t *testing.T) {
	files, err := Prune(runtime.GOROOT(), "linux", "amd64", false)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range files {
		names[f.Name] = true
		for _, other := range []string{"_arm64.s", "_windows.go", "race_darwin_arm64.syso", "goboringcrypto_linux_amd64.syso", "traceviewer", "/testdata/", "_test.go", "norm/tables13.0.0.go"} {
			if strings.Contains(f.Name, other) {
				t.Errorf("carries %s", f.Name)
			}
		}
	}
	for _, want := range []string{"VERSION", "src/runtime/asm_amd64.s", "src/vendor/golang.org/x/text/unicode/norm/tables15.0.0.go", "src/runtime/race/internal/amd64v1/race_linux.syso", "bin/go", "pkg/tool/linux_amd64/compile"} {
		if !names[want] {
			t.Errorf("does not carry %s", want)
		}
	}
	if last := files[len(files)-1].Name; last != "pkg/tool/linux_amd64/compile" {
		t.Errorf("the last file is %s, want the compiler", last)
	}
	boring, err := Prune(runtime.GOROOT(), "linux", "amd64", true)
	if err != nil {
		t.Fatal(err)
	}
	if len(boring) != len(files)+2 { // syso.go and the linux/amd64 object
		t.Errorf("with boringcrypto: %d files, want %d", len(boring), len(files)+2)
	}
}

// For every build setting an install may have, the go command sees each
// standard library package with the same files in the pruned toolchain as
// in the whole one: nothing a build reads was left out.
func TestPrunedToolchainListsAsWhole(t *testing.T) {
	if testing.Short() || runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("lists the standard library several times; linux/amd64 only")
	}
	root := runtime.GOROOT()
	files, err := Prune(root, "linux", "amd64", false)
	if err != nil {
		t.Fatal(err)
	}
	pruned := t.TempDir()
	for _, f := range files {
		dst := filepath.Join(pruned, filepath.FromSlash(f.Name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(f.Src, dst); err != nil {
			t.Fatal(err)
		}
	}
	const format = `{{.ImportPath}} {{.GoFiles}} {{.CgoFiles}} {{.SFiles}} {{.CFiles}} {{.HFiles}} {{.SysoFiles}} {{.EmbedFiles}} {{.Imports}} {{.Error}}`
	for _, c := range []struct{ env, flags []string }{
		{[]string{"CGO_ENABLED=1"}, nil},
		{[]string{"CGO_ENABLED=0"}, []string{"-tags=netgo,osusergo,purego,math_big_pure_go"}},
		{[]string{"CGO_ENABLED=1"}, []string{"-race"}},
		{[]string{"CGO_ENABLED=0", "GOAMD64=v3", "GOEXPERIMENT=nosimd"}, nil},
	} {
		list := func(goroot string) string {
			cmd := exec.Command(filepath.Join(root, "bin", "go"), append(append([]string{"list", "-e", "-f", format}, c.flags...), "std")...)
			cmd.Env = append(os.Environ(), append(c.env, "GOROOT="+goroot, "GOFLAGS=", "GOWORK=off", "GOCACHE="+filepath.Join(pruned, "cache"))...)
			cmd.Dir = t.TempDir()
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v %v: %v\n%s", c.env, c.flags, err, out)
			}
			return strings.ReplaceAll(string(out), goroot, "GOROOT")
		}
		got := map[string]string{}
		for _, l := range strings.Split(list(pruned), "\n") {
			p, _, _ := strings.Cut(l, " ")
			got[p] = l
		}
		for _, l := range strings.Split(list(root), "\n") {
			p, _, _ := strings.Cut(l, " ")
			testOnly := strings.HasPrefix(l, p+" [] [] ") // no Go files but its tests'
			if got[p] != l && !testOnly && !strings.HasPrefix(p, "internal/trace/traceviewer") {
				t.Errorf("%v %v: %s\nin the pruned toolchain: %s\nin the whole one:       %s", c.env, c.flags, p, got[p], l)
			}
		}
	}
}
