package selfcompile

// Go plugins built for the running program: the plugin set checked by
// the usual probe in a built binary, then the plugin built with
// -buildmode=plugin, with the bundled toolchain, the running binary's
// recorded settings and the exact module versions of its build, so that
// plugin.Open accepts it. Package live opens it.

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"github.com/shazow/go-selfcompile/hook"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/gosrc"
)

// GoPlugin is a plugin built as a Go plugin for the running program, by
// BuildGoPlugin.
type GoPlugin struct {
	// Plugin is the plugin, as a binary that compiled it in would record
	// it.
	Plugin PluginInfo
	// Path is the shared object, named by its sha256, and Sum that sha256
	// in hex, as the build wrote it.
	Path, Sum string
}

// goPluginPlatforms are the platforms whose Go toolchain builds and loads
// Go plugins (internal/platform of the go command, where this library
// runs).
var goPluginPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm", "linux/386", "linux/loong64", "linux/riscv64", "linux/s390x", "linux/ppc64le", "darwin/amd64", "darwin/arm64", "freebsd/amd64"}

// BuildGoPlugin builds the plugin spec as a Go plugin (-buildmode=plugin)
// that the running program can open with plugin.Open: with the bundled
// toolchain, the settings the running binary records, and the module
// versions of its build. The program with the plugin compiled in is built
// and probed first, so a plugin that panics in init never reaches the
// running process. It builds nothing and returns an error matching
// ErrNoGoPlugins on a platform without Go plugins or for a program built
// without cgo or without -trimpath, ErrNoCCompiler without a C compiler (a Go plugin is always
// linked by one), and ErrModuleMismatch for a plugin that needs module
// versions other than the running program's, and ErrLoaded for a plugin
// that the running program has, compiled in or among loaded (those it
// loaded live), at any version. Package live loads the result; see it for
// what a Go plugin can and cannot do.
func (c *SelfCompile) BuildGoPlugin(ctx context.Context, spec string, loaded []PluginInfo) (*GoPlugin, error) {
	gp, err := c.buildGoPlugin(ctx, spec, loaded)
	return gp, apiErr(err)
}

// buildGoPlugin is BuildGoPlugin: begin, restore, resolve the plugin
// added, check it against the running program, build the program with it
// into the workdir and verify it (its probe, swapping nothing), then
// build the Go plugin.
func (c *SelfCompile) buildGoPlugin(ctx context.Context, spec string, loaded []PluginInfo) (gp *GoPlugin, err error) {
	if err := checkGoPlugins(); err != nil {
		return nil, err
	}
	r, l, cs, err := c.prepare(ctx, Change{Add: []string{spec}}, runOptions{})
	if err != nil {
		return nil, err
	}
	defer r.end()
	defer func() { err = canceled(ctx, r.current, err) }()
	res, err := l.resolve(ctx, cs, true)
	if err != nil {
		return nil, err
	}
	info := res.rec.Plugins[slices.IndexFunc(res.plugins, func(p pluginSpec) bool { return p.isNew })]
	if err := refuseLoaded(info, slices.Concat(Installed(), loaded)); err != nil {
		return nil, err
	}
	if err := res.checkRunningModules(); err != nil {
		return nil, err
	}
	b, err := res.build(ctx, false)
	if err != nil {
		return nil, err
	}
	if err := res.verify(ctx, b); err != nil {
		return nil, err
	}
	return res.buildShared(ctx, info)
}

// refuseLoaded refuses a plugin that the running program has, compiled in
// or loaded live (have), at any version: a Go plugin cannot be unloaded
// or replaced, and a package already in the process does not run its init
// again. The same plugin as asked needs nothing, and the error says so;
// another version needs an install and a restart.
func refuseLoaded(p PluginInfo, have []PluginInfo) error {
	for _, h := range have {
		if h.ImportPath == p.ImportPath && h.Version == p.Version && h.Local == p.Local && h.Sum == p.Sum {
			return fmt.Errorf("%w: %s is in it already, as asked (%s): there is nothing to load", ErrLoaded, p.ImportPath, h.Describe())
		}
		if h.Shares(p) {
			return fmt.Errorf("%w: %s is in it already (%s); a Go plugin cannot be unloaded or replaced: install it with plugin add and restart the program", ErrLoaded, p.ImportPath, h.Describe())
		}
	}
	return nil
}

// checkGoPlugins refuses, before any work, what cannot load a Go plugin:
// a platform without them, a program whose build settings no plugin built
// here can match (checkLiveSettings), a machine without a C compiler.
func checkGoPlugins() error {
	if p := runtime.GOOS + "/" + runtime.GOARCH; !slices.Contains(goPluginPlatforms, p) {
		return fmt.Errorf("%w: Go has no plugins on %s; install the plugin with plugin add and restart the program", ErrNoGoPlugins, p)
	}
	bi, _ := debug.ReadBuildInfo()
	if err := checkLiveSettings(bi); err != nil {
		return err
	}
	if cCompiler() == "" {
		return fmt.Errorf("%w: a Go plugin is linked by the C compiler, and there is none (gcc or clang on PATH, or CC); install one, or install the plugin with plugin add and restart the program", ErrNoCCompiler)
	}
	return nil
}

// checkLiveSettings refuses a program whose build a Go plugin built here
// cannot match: one built without cgo (plugin.Open then only says "not
// implemented"), or without -trimpath, whose packages carry the paths of
// the machine it was built on, which a plugin built elsewhere cannot have.
func checkLiveSettings(bi *debug.BuildInfo) error {
	has := func(key, value string) bool {
		return bi != nil && slices.ContainsFunc(bi.Settings, func(s debug.BuildSetting) bool { return s.Key == key && s.Value == value })
	}
	switch {
	case !has("CGO_ENABLED", "1"):
		return fmt.Errorf("%w: this program was built without cgo (CGO_ENABLED=0), and plugin.Open needs it; install the plugin with plugin add and restart the program", ErrNoGoPlugins)
	case !has("-trimpath", "true"):
		return fmt.Errorf("%w: this program was built without -trimpath, so its packages carry the paths of the machine that built it and no plugin built here matches them; install the plugin with plugin add and restart the program (the rebuilt binary has -trimpath)", ErrNoGoPlugins)
	}
	return nil
}

// checkRunningModules refuses a plugin whose build would use a module at
// another version than the running program's: plugin.Open refuses a
// package that differs from the one the process has.
func (res *resolution) checkRunningModules() error {
	running, err := runningBuildList()
	if err != nil {
		return err
	}
	var moved []string
	for path, a := range res.after {
		if r, ok := running[path]; ok && !a.Main && (r.Version != a.Version || !sameReplace(r.Replace, a.Replace)) {
			moved = append(moved, fmt.Sprintf("%s %s => %s", path, r.Version, a.Version))
		}
	}
	if len(moved) > 0 {
		slices.Sort(moved)
		return fmt.Errorf("%w: %s; the running program has other versions: install the plugin with plugin add and restart the program", ErrModuleMismatch, strings.Join(moved, ", "))
	}
	return nil
}

// runningBuildList is the build list of the running program, as the
// bundles it embeds record it.
func runningBuildList() (gosrc.BuildList, error) {
	shared, _, plugins, _ := hook.Registered()
	return embeddedBuildList(shared, plugins)
}

// embeddedBuildList is the build list that a program's embedded bundles
// record: its plugins bundle's, or before any install its shared bundle's,
// which a program whose bundles are beside it names in its beside bundle.
func embeddedBuildList(shared, plugins string) (gosrc.BuildList, error) {
	src := cmp.Or(plugins, shared)
	if src == "" {
		return nil, fmt.Errorf("%w: the running program was not prepared with go-selfcompile", ErrNoBundle)
	}
	m, err := bundle.ReadManifest(strings.NewReader(src))
	if err != nil {
		return nil, err
	}
	if m = m.SharedManifest(); m == nil {
		return nil, &bundle.CorruptError{Reason: "the running program's beside bundle names no shared bundle"}
	}
	return gosrc.ParseModList(m.BuildList)
}

// buildShared builds the Go plugin: a main package, in the restored host
// module, that imports the plugin and exports its exported variables (by
// pointer) and functions, so that plugin.Lookup finds them. The shared
// object goes into the cache, named by its sha256.
func (res *resolution) buildShared(ctx context.Context, info PluginInfo) (*GoPlugin, error) {
	sum := sha256.Sum256([]byte(info.String() + info.Sum + info.Local))
	rel := "selfcompile_goplugin/p" + hex.EncodeToString(sum[:8])
	dir := filepath.Join(res.dirs.module, filepath.FromSlash(rel))
	src, err := wrapper(ctx, res.layout, info.ImportPath)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), src, 0o644); err != nil {
		return nil, err
	}
	out := filepath.Join(res.cache, goPluginsDir)
	if err := os.MkdirAll(out, 0o700); err != nil {
		return nil, err
	}
	tmp := filepath.Join(res.workdir, "plugin.so")
	// -buildmode=plugin last: it overrides a -buildmode=pie the binary records.
	args := append(append([]string{"build"}, buildFlags(res.bin.Build, res.c.LDFlags)...), "-buildmode=plugin")
	res.c.logf("Building the Go plugin: %s", info.ImportPath)
	if _, err := res.g.Run(ctx, append(args, "-o", tmp, "./"+rel)...); err != nil {
		return nil, res.goError(err)
	}
	data, err := os.ReadFile(tmp)
	if err != nil {
		return nil, err
	}
	h := sha256.Sum256(data)
	gp := &GoPlugin{Plugin: info, Sum: hex.EncodeToString(h[:])}
	gp.Path = filepath.Join(out, gp.Sum+".so")
	return gp, os.Rename(tmp, gp.Path)
}

// wrapper returns the main package of a Go plugin that imports the
// package at path and exports its exported package-level variables (as
// pointers to them) and functions (as values), which go list and go/parser
// find in its files.
func wrapper(ctx context.Context, l *layout, path string) ([]byte, error) {
	pkgs, err := gosrc.List(ctx, l.g, nil, "--", path)
	if err != nil || len(pkgs) != 1 {
		return nil, fmt.Errorf("listing %s: %v", path, err)
	}
	var names []string
	vars := map[string]bool{}
	fset := token.NewFileSet()
	for _, name := range pkgs[0].GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(pkgs[0].Dir, name), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil && d.Name.IsExported() && d.Type.TypeParams == nil {
					names = append(names, d.Name.Name)
				}
			case *ast.GenDecl:
				for _, s := range d.Specs {
					if vs, ok := s.(*ast.ValueSpec); ok && d.Tok == token.VAR {
						for _, n := range vs.Names {
							if n.IsExported() {
								names, vars[n.Name] = append(names, n.Name), true
							}
						}
					}
				}
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("// Code generated by go-selfcompile. DO NOT EDIT.\n\npackage main\n\n")
	if len(names) == 0 {
		fmt.Fprintf(&b, "import _ %s\n\nfunc main() {}\n", strconv.Quote(path))
		return b.Bytes(), nil
	}
	fmt.Fprintf(&b, "import p %s\n\n", strconv.Quote(path))
	for _, n := range names {
		if vars[n] {
			fmt.Fprintf(&b, "var %s = &p.%s\n", n, n)
		} else {
			fmt.Fprintf(&b, "var %s = p.%s\n", n, n)
		}
	}
	b.WriteString("\nfunc main() {}\n")
	return b.Bytes(), nil
}
