package selfcompile

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"

	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/gosrc"
)

// resolve applies the change set to the plugins the executable has, makes
// the restored module provide the new set (local folders through a
// replace, versions through go get), and returns the plan: the plugins
// added, removed and upgraded, the host dependencies the new set moves,
// and what is carried from local folders. A module that only the network
// has is reported here, before anything is built.
func (in *install) resolve(cs *changeSet) (*Plan, error) {
	done := in.stage("resolve")
	local, err := in.restorePluginBundle()
	if err != nil {
		return nil, err
	}
	failpoint(in.ctx, "plugins-restored")
	if in.plugins, err = desiredPlugins(in.bin.record.Plugins, local, cs); err != nil {
		return nil, err
	}
	if err := in.checkLocal(); err != nil {
		return nil, err
	}
	if err := in.require(); err != nil {
		return nil, err
	}
	failpoint(in.ctx, "required")
	pkgs, err := in.listPlugins()
	if err != nil {
		return nil, err
	}
	failpoint(in.ctx, "listed")
	// After the listing: it adds to go.mod the modules that provide what
	// the plugins import, which may be new to the graph.
	out, err := in.g.Run(in.ctx, "list", "-m", "all")
	if err != nil {
		return nil, in.resolveError(err)
	}
	if in.after, err = parseModList(out); err != nil {
		return nil, err
	}
	carried, err := in.stageLocal(pkgs)
	if err != nil {
		return nil, err
	}
	in.pluginBundle = len(in.rec.Plugins) > 0 || in.rec.HostVersion != ""
	plan := makePlan(in.bin, in.rec.Plugins, in.after)
	plan.Carried = carried
	in.c.logf("%s", strings.TrimSuffix(plan.String(), "\n"))
	done()
	failpoint(in.ctx, "planned")
	return plan, nil
}

// localVersion is the version a module replaced by a local directory is
// required at.
const localVersion = "v0.0.0-00010101000000-000000000000"

// require writes the plugin set into the restored go.mod: a requirement
// and a replace for each local plugin (its folder, or the copy the binary
// carries), the recorded version for each kept one (unless the host
// requires more), and go get for each new version.
func (in *install) require() error {
	gomod := filepath.Join(in.r.module, "go.mod")
	f, err := readModFile(gomod)
	if err != nil {
		return err
	}
	var get []string
	for _, p := range in.plugins {
		switch {
		case p.moduleDir != "":
			if err := requireLocal(f, p.modulePath, in.relToModule(p.moduleDir)); err != nil {
				return err
			}
		case p.pinned:
			if err := requireAtLeast(f, p.modulePath, p.version); err != nil {
				return err
			}
		case p.version != "":
			get = append(get, p.importPath+"@"+p.version)
		}
	}
	if err := writeModFile(gomod, f); err != nil {
		return err
	}
	if len(get) > 0 {
		if _, err := in.g.Run(in.ctx, append([]string{"get", "--"}, get...)...); err != nil {
			return in.resolveError(err)
		}
	}
	return nil
}

func readModFile(gomod string) (*modfile.File, error) {
	f, err := gosrc.ReadModFile(gomod)
	if err != nil {
		return nil, fmt.Errorf("selfcompile: reading the host's go.mod: %w", err)
	}
	return f, nil
}

func writeModFile(gomod string, f *modfile.File) error {
	f.Cleanup()
	return os.WriteFile(gomod, modfile.Format(f.Syntax), 0o644)
}

// requireLocal makes f require module path from the directory dir.
func requireLocal(f *modfile.File, path, dir string) error {
	if err := f.AddRequire(path, localVersion); err != nil {
		return err
	}
	return f.AddReplace(path, "", dir, "")
}

// relToModule returns dir relative to the restored host module, slash
// separated, as a go.mod replace names it: the same path for every
// install, so that the same plugin set gives the same binary.
func (in *install) relToModule(dir string) string {
	rel, err := filepath.Rel(in.r.module, dir)
	if err != nil || !strings.HasPrefix(dir, in.workdir) {
		return dir
	}
	rel = filepath.ToSlash(rel)
	if !strings.HasPrefix(rel, ".") {
		rel = "./" + rel
	}
	return rel
}

// requireAtLeast makes f require path at version, or at the version it
// already requires if that is higher.
func requireAtLeast(f *modfile.File, path, version string) error {
	for _, r := range f.Require {
		if r.Mod.Path == path && semver.Compare(r.Mod.Version, version) >= 0 {
			return nil
		}
	}
	return f.AddRequire(path, version)
}

// listPlugins lists, in one go list, the packages of the program with the
// plugins: it checks that each plugin is a package a plugin may be and
// sets the plugins as the stub records them, finds what only the network
// has before anything is built, and counts the packages the build will
// have. The listing also says what builds local plugins (stageLocal).
func (in *install) listPlugins() ([]gosrc.Package, error) {
	args := []string{"-deps", "--", "./" + in.bin.sharedM.MainDir}
	for _, p := range in.plugins {
		args = append(args, p.importPath)
	}
	pkgs, err := gosrc.List(in.ctx, in.g, nil, args...)
	if err != nil {
		return nil, in.resolveError(err)
	}
	byPath := map[string]gosrc.Package{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	in.packages = len(byPath)
	in.rec.Plugins = nil
	for _, p := range in.plugins {
		info, err := in.pluginInfo(p, byPath[p.importPath])
		if err != nil {
			return nil, in.withReplaceHint(err)
		}
		in.rec.Plugins = append(in.rec.Plugins, info)
	}
	for _, p := range pkgs {
		if p.Error != nil && needsNetwork(p.Error.Err) {
			return nil, in.withReplaceHint(&NetworkError{Plugins: in.newPlugins(), Module: p.ImportPath, Version: "latest", Reason: strings.TrimSpace(p.Error.Err)})
		}
	}
	return pkgs, nil
}

// needsNetwork reports whether a go command error is about a module it
// could only get from the network.
func needsNetwork(msg string) bool {
	return strings.Contains(msg, "module lookup disabled") || networkFailure.MatchString(msg)
}

// pluginInfo checks what go list says of a plugin's package.
func (in *install) pluginInfo(p pluginSpec, lp gosrc.Package) (PluginInfo, error) {
	bad := func(reason string) (PluginInfo, error) {
		return PluginInfo{}, &PluginError{Spec: p.raw, Reason: reason}
	}
	main := in.bin.sharedM.MainModule
	switch {
	case lp.ImportPath == "":
		return bad("go list did not report it")
	case lp.Error != nil && (p.importPath == main || strings.HasPrefix(p.importPath, main+"/")):
		return bad("there is no such package in the host module " + main + ": " + strings.TrimSpace(lp.Error.Err))
	case lp.Error != nil && needsNetwork(lp.Error.Err):
		return PluginInfo{}, &NetworkError{Plugins: []string{p.raw}, Module: cmp.Or(p.modulePath, p.importPath), Version: cmp.Or(p.version, "latest"), Reason: strings.TrimSpace(lp.Error.Err)}
	case lp.Error != nil:
		return bad(strings.TrimSpace(lp.Error.Err))
	case lp.Standard:
		return bad("it is a standard library package, not a plugin")
	case lp.Name == "main":
		return bad("it is a main package (a program), not a plugin; a plugin is a library package that registers itself in init")
	case lp.Module == nil:
		return bad("it is not provided by any module")
	}
	info := PluginInfo{ImportPath: p.importPath, Module: lp.Module.Path, Version: lp.Module.Version}
	if p.dir != "" {
		info.Version, info.Local = "", p.dir
	}
	if lp.Module.Main {
		info.Module, info.Version = "", ""
	}
	return info, nil
}

// networkFailure matches, in the go command's output, a module it could
// not get: "go: example.com/m@v1.2.3: module lookup disabled by
// GOPROXY=off", or "example.com/a@v1.0.0 requires example.com/m@v1.2.3:
// reading https://...: dial tcp: ...".
var networkFailure = regexp.MustCompile(`(\S+)@(v[^\s:]+): ((?:module lookup disabled|reading https?:|Get "?https?:|dial tcp|[^\n]*(?:no such host|connection refused|network is unreachable|i/o timeout|TLS handshake))[^\n]*)`)

// resolveError makes a failed go get, go list or go list -m a typed error:
// a *NetworkError when a module could only come from the network, else
// as attributeError does.
func (in *install) resolveError(err error) error {
	var ge *gocmd.Error
	if !errors.As(err, &ge) {
		return err
	}
	if m := networkFailure.FindAllStringSubmatch(ge.Output, -1); m != nil {
		last := m[len(m)-1]
		ne := &NetworkError{Module: last[1], Version: last[2], Reason: strings.TrimSpace(last[3])}
		for _, p := range in.plugins {
			if p.isNew && (mentions(ge.Output, p.importPath) || mentions(ge.Output, cmp.Or(p.modulePath, p.importPath))) {
				ne.Plugins = append(ne.Plugins, p.raw)
			}
		}
		if len(ne.Plugins) == 0 {
			ne.Plugins = in.newPlugins()
		}
		return in.withReplaceHint(ne)
	}
	return in.withReplaceHint(attributeError(err, in.plugins))
}

// newPlugins returns the plugins being added or upgraded, as given.
func (in *install) newPlugins() []string {
	var out []string
	for _, p := range in.plugins {
		if p.isNew {
			out = append(out, p.raw)
		}
	}
	return out
}

// withReplaceHint adds to a resolve failure about a module that a local
// plugin's go.mod replaces that replace directives are not followed: only
// the main module's go.mod may replace modules, and a plugin is not the
// main module. The failure stays the cause.
func (in *install) withReplaceHint(err error) error {
	for _, p := range in.plugins {
		for _, m := range p.replaced {
			if p.isNew && mentions(err.Error(), m) {
				return &PluginError{Spec: p.raw, Err: err, Reason: fmt.Sprintf("its go.mod replaces %s, and replace directives are not followed when it is installed as a plugin (only a program's own go.mod replaces modules): publish the replaced module, or remove the replace line and require a published version", m)}
			}
		}
	}
	return err
}

// makePlan compares the executable's plugins and build list with the new
// ones.
func makePlan(bin *binary, plugins []PluginInfo, after map[string]listedModule) *Plan {
	p := &Plan{Target: bin.path, Plugins: plugins}
	installed := bin.record.Plugins
	old := map[string]PluginInfo{}
	for _, i := range installed {
		old[i.ImportPath] = i
	}
	for _, n := range plugins {
		o, ok := old[n.ImportPath]
		switch {
		case !ok:
			p.Added = append(p.Added, n)
		case o.Version != n.Version || o.Local != n.Local:
			p.Upgraded = append(p.Upgraded, VersionChange{n.ImportPath, o.describeVersion(), n.describeVersion()})
		}
		delete(old, n.ImportPath)
	}
	for _, i := range installed {
		if _, ok := old[i.ImportPath]; ok {
			p.Removed = append(p.Removed, i)
		}
	}
	host, _ := parseModList([]byte(strings.Join(bin.sharedM.BuildList, "\n")))
	for path, h := range host {
		if a := after[path]; !h.Main && a.Version != h.Version {
			p.HostDeps = append(p.HostDeps, VersionChange{path, h.Version, a.Version})
		}
	}
	slices.SortFunc(p.HostDeps, func(a, b VersionChange) int { return strings.Compare(a.Path, b.Path) })
	return p
}

// listedModule is a module of go list -m all.
type listedModule struct {
	Path, Version string
	Main          bool
	Replace       *struct{ Path, Version string }
}

// parseModList reads the plain output of go list -m all: "path" for the
// main module, "path version", and "path version => path version" or
// "path version => dir" for replaced modules. (The -json form would make
// the go command fetch every module's .info file, for its time, which an
// offline install does not have.)
func parseModList(out []byte) (map[string]listedModule, error) {
	mods := map[string]listedModule{}
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		var m listedModule
		switch {
		case len(f) == 1 && i == 0:
			m = listedModule{Path: f[0], Main: true}
		case len(f) == 2:
			m = listedModule{Path: f[0], Version: f[1]}
		case len(f) == 4 && f[2] == "=>":
			m = listedModule{Path: f[0], Version: f[1], Replace: &struct{ Path, Version string }{Path: f[3]}}
		case len(f) == 5 && f[2] == "=>":
			m = listedModule{Path: f[0], Version: f[1], Replace: &struct{ Path, Version string }{f[3], f[4]}}
		default:
			return nil, fmt.Errorf("selfcompile: unexpected go list -m line %q", line)
		}
		mods[m.Path] = m
	}
	return mods, nil
}
