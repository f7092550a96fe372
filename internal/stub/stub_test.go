package stub

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/build"
	"go/format"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// injections are plugin names that try to smuggle Go code into the stub.
var injections = []string{
	`example.com/x"; func init() { panic("owned") }; import _ "fmt`,
	"example.com/x\"\nfunc init() { panic(1) }\nvar _ = \"",
	"example.com/x`+`",
	`example.com/x\" + \"y`,
	"example.com/x\x00y",
	"example.com/x // comment",
	"example.com/x;os.Exit(1)",
	"example.com/x\n",
	"example.com/${HOME}",
	"example.com/x*/",
	"example.com/ünïcode",
	"example.com/x\u202e",
}

const bundlePkg = "example.com/host/cmd/host/selfcompilebundle"

func TestMainRejectsInjection(t *testing.T) {
	for _, s := range injections {
		if src, err := Main(bundlePkg, []string{s}, EmptyRecord, false); err == nil {
			t.Errorf("Main accepted %q:\n%s", s, src)
		}
	}
}

// The stub is valid Go with exactly one blank import per plugin, one init
// function, and a record that round-trips through its string literal.
func TestMainImportsPlugins(t *testing.T) {
	record := `{"plugins":[{"path":"example.com/a/sub","local":"/tmp/dir with \"quotes\""}]}`
	src, err := Main(bundlePkg, []string{"example.com/b", "example.com/a/sub"}, record, true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), MainFile, src, parser.ParseComments)
	if err != nil {
		t.Fatalf("stub does not parse: %v\n%s", err, src)
	}
	var blank []string
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if imp.Name != nil && imp.Name.Name == "_" && p != "embed" {
			blank = append(blank, p)
		}
	}
	if strings.Join(blank, " ") != "example.com/a/sub example.com/b" {
		t.Errorf("blank imports = %q", blank)
	}
	var funcs int
	var lit string
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncDecl:
			funcs++
		case *ast.ValueSpec:
			if n.Names[0].Name == "selfcompileRecord" {
				lit, _ = strconv.Unquote(n.Values[0].(*ast.BasicLit).Value)
			}
		}
		return true
	})
	if funcs != 1 || lit != record {
		t.Errorf("stub declares %d functions (want the one init) and record %q", funcs, lit)
	}
	if !strings.Contains(string(src), "//go:embed "+PluginsBundle) {
		t.Error("stub does not embed the plugins bundle")
	}
}

// The stub depends on the plugin set, not on the order it was given in,
// and refuses a plugin listed twice.
func TestMainStable(t *testing.T) {
	a, _ := Main(bundlePkg, []string{"example.com/a", "example.com/b"}, EmptyRecord, false)
	b, _ := Main(bundlePkg, []string{"example.com/b", "example.com/a"}, EmptyRecord, false)
	if string(a) != string(b) {
		t.Fatal("the stub depends on the order plugins were given in")
	}
	if _, err := Main(bundlePkg, []string{"example.com/a", "example.com/a"}, EmptyRecord, false); err == nil {
		t.Fatal("a plugin listed twice was accepted")
	}
	empty, _ := Main(bundlePkg, nil, EmptyRecord, false)
	if strings.Contains(string(empty), "go:embed") {
		t.Errorf("a stub without plugins embeds something:\n%s", empty)
	}
}

// go build picks exactly one toolchain file for each target: its own for
// a generated target, the empty one for every other.
func TestBundlePackageTargets(t *testing.T) {
	files, err := BundlePackage("example.com/host/cmd/host", []string{"linux/amd64", "darwin/arm64", "windows/amd64"}, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range files {
		os.WriteFile(filepath.Join(dir, name), content, 0o644)
	}
	cases := map[string]string{
		"linux/amd64":   ToolchainGoFile("linux", "amd64"),
		"darwin/arm64":  ToolchainGoFile("darwin", "arm64"),
		"windows/amd64": ToolchainGoFile("windows", "amd64"),
		"linux/arm64":   OtherTargetFile,
		"windows/arm64": OtherTargetFile,
		"freebsd/amd64": OtherTargetFile,
	}
	for target, want := range cases {
		ctx := build.Default
		ctx.GOOS, ctx.GOARCH, _ = strings.Cut(target, "/")
		var picked []string
		for name := range files {
			if ok, err := ctx.MatchFile(dir, name); err != nil {
				t.Fatal(err)
			} else if ok && strings.HasPrefix(name, "toolchain_") {
				picked = append(picked, name)
			}
		}
		if len(picked) != 1 || picked[0] != want {
			t.Errorf("%s builds %q, want %s", target, picked, want)
		}
	}
}

// With the bundles beside the executable, each generated target's file
// embeds its beside bundle as Shared, and every target declares Shared
// and Toolchain exactly once.
func TestBundlePackageBeside(t *testing.T) {
	files, err := BundlePackage("example.com/host/cmd/host", []string{"linux/amd64", "darwin/arm64"}, true)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, content := range files {
		os.WriteFile(filepath.Join(dir, name), content, 0o644)
	}
	if strings.Contains(string(files[BundleGoFile]), "go:embed") {
		t.Errorf("%s embeds a bundle:\n%s", BundleGoFile, files[BundleGoFile])
	}
	for _, target := range []string{"linux/amd64", "darwin/arm64", "windows/amd64"} {
		ctx := build.Default
		ctx.GOOS, ctx.GOARCH, _ = strings.Cut(target, "/")
		var src strings.Builder
		for name, content := range files {
			if ok, err := ctx.MatchFile(dir, name); err != nil {
				t.Fatal(err)
			} else if ok {
				src.Write(content)
			}
		}
		goos, goarch, _ := strings.Cut(target, "/")
		embeds := strings.Contains(src.String(), "//go:embed "+BesideBundle(goos, goarch)+"\nvar Shared string")
		if target == "windows/amd64" {
			embeds = !embeds && strings.Contains(src.String(), "var Shared, Toolchain string")
		}
		if !embeds || strings.Count(src.String(), "Shared") < 1 || strings.Count(src.String(), "var Toolchain")+strings.Count(src.String(), "Shared, Toolchain") != 1 {
			t.Errorf("%s builds:\n%s", target, src.String())
		}
	}
}

// The stub and the bundle package are written as gofmt writes them, for
// every shape they take: the library does not link go/format into hosts.
func TestGofmt(t *testing.T) {
	check := func(name string, src []byte) {
		t.Helper()
		want, err := format.Source(src)
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, src)
		}
		if !bytes.Equal(src, want) {
			t.Errorf("%s is not gofmt'd:\n%s\nwant:\n%s", name, src, want)
		}
	}
	for _, imports := range [][]string{nil, {"example.com/a", "example.com/b/v2"}} {
		for _, pb := range []bool{false, true} {
			src, err := Main("example.com/prog/selfcompilebundle", imports, `{"plugins":[]}`, pb)
			if err != nil {
				t.Fatal(err)
			}
			check(fmt.Sprintf("Main(%q, %v)", imports, pb), src)
		}
	}
	for _, beside := range []bool{false, true} {
		for _, targets := range [][]string{{"linux/amd64"}, {"linux/amd64", "darwin/arm64", "windows/amd64"}} {
			files, err := BundlePackage("example.com/prog", targets, beside)
			if err != nil {
				t.Fatal(err)
			}
			for name, src := range files {
				check(fmt.Sprintf("%s (%v, beside %v)", name, targets, beside), src)
			}
		}
	}
}
