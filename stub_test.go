package selfcompile

import (
	"errors"
	"go/ast"
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
	"example.com/x/*",
	"example.com/ünïcode",
	"example.com/x\u202e",
}

func TestStubRejectsInjection(t *testing.T) {
	for _, s := range injections {
		if _, err := parseSpec(s); !errors.Is(err, ErrInvalidPlugin) {
			t.Errorf("parseSpec(%q) = %v, want ErrInvalidPlugin", s, err)
		}
		if _, err := renderStub(buildRecord{Plugins: []PluginInfo{{ImportPath: s}}}); !errors.Is(err, ErrInvalidPlugin) {
			t.Errorf("renderStub(%q) = %v, want ErrInvalidPlugin", s, err)
		}
	}
}

// The stub is valid Go with exactly one blank import per plugin, and the
// plugin record round-trips through the string literal.
func TestStubImportsPlugins(t *testing.T) {
	plugins := []PluginInfo{
		{ImportPath: "example.com/b", Module: "example.com/b", Version: "v1.2.3"},
		{ImportPath: "example.com/a/sub", Module: "example.com/a", Local: `/tmp/dir with "quotes"`},
	}
	src, err := renderStub(buildRecord{Plugins: plugins})
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), StubFile, src, parser.ParseComments)
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
	ast.Inspect(f, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncDecl); ok {
			funcs++
		}
		return true
	})
	if funcs != 1 {
		t.Errorf("stub declares %d functions, want the one init", funcs)
	}
	if !strings.Contains(string(src), "//go:embed "+BundleFile) {
		t.Error("stub does not embed the bundle")
	}
}

// The generator's stub and an install without plugins write the same
// bytes, so a rebuild without plugins reproduces the original program.
func TestStubEmptyIsStable(t *testing.T) {
	a, err := renderStub(buildRecord{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := renderStub(buildRecord{Plugins: []PluginInfo{}})
	if string(a) != string(b) {
		t.Fatal("empty stubs differ")
	}
	order1, _ := renderStub(buildRecord{Plugins: []PluginInfo{{ImportPath: "example.com/a"}, {ImportPath: "example.com/b"}}})
	order2, _ := renderStub(buildRecord{Plugins: []PluginInfo{{ImportPath: "example.com/b"}, {ImportPath: "example.com/a"}}})
	if string(order1) != string(order2) {
		t.Fatal("the stub depends on the order plugins were given in")
	}
	if _, err := renderStub(buildRecord{Plugins: []PluginInfo{{ImportPath: "example.com/a"}, {ImportPath: "example.com/a"}}}); !errors.Is(err, ErrInvalidPlugin) {
		t.Fatalf("duplicate plugin: %v", err)
	}
}

func TestParseSpec(t *testing.T) {
	mod := t.TempDir()
	os.WriteFile(filepath.Join(mod, "go.mod"), []byte("module example.com/local\n\ngo 1.26\n"), 0o644)
	os.MkdirAll(filepath.Join(mod, "sub", "pkg"), 0o755)
	os.WriteFile(filepath.Join(mod, "p.go"), []byte("package local\n"), 0o644)
	os.WriteFile(filepath.Join(mod, "sub", "pkg", "p.go"), []byte("package pkg\n"), 0o644)
	notMod := t.TempDir()
	os.WriteFile(filepath.Join(notMod, "p.go"), []byte("package p\n"), 0o644)

	good := []struct{ in, path, version string }{
		{"example.com/plugin", "example.com/plugin", ""},
		{"example.com/plugin@v1.2.3", "example.com/plugin", "v1.2.3"},
		{"example.com/plugin/v2@v2.0.0-rc.1", "example.com/plugin/v2", "v2.0.0-rc.1"},
		{"example.com/plugin@latest", "example.com/plugin", "latest"},
		{"example.com/plugin@v0.0.0-20260101000000-0123456789ab", "example.com/plugin", "v0.0.0-20260101000000-0123456789ab"},
		{"example.com/plugin@0123456789abcdef", "example.com/plugin", "0123456789abcdef"},
		{mod, "example.com/local", ""},
		{filepath.Join(mod, "sub", "pkg"), "example.com/local/sub/pkg", ""},
	}
	for _, c := range good {
		sp, err := parseSpec(c.in)
		if err != nil {
			t.Errorf("parseSpec(%q): %v", c.in, err)
			continue
		}
		if sp.importPath != c.path || sp.version != c.version {
			t.Errorf("parseSpec(%q) = %q@%q, want %q@%q", c.in, sp.importPath, sp.version, c.path, c.version)
		}
	}
	bad := map[string]string{
		"":                             "empty",
		"example.com/plugin@v1":        "full semantic version",
		"example.com/plugin@1.2.3":     "invalid version",
		"example.com/plugin@master;rm": "invalid version",
		"example.com/plugin@":          "invalid version",
		"-flag":                        "not a valid import path",
		"example.com/../etc":           "not a valid import path",
		notMod:                         "not inside a Go module",
		filepath.Join(mod, "missing"):  "not found",
		filepath.Join(mod, "go.mod"):   "not a directory",
	}
	for in, want := range bad {
		_, err := parseSpec(in)
		if !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), want) {
			t.Errorf("parseSpec(%q) = %v, want ErrInvalidPlugin saying %q", in, err, want)
		}
	}
}
