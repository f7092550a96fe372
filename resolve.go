package selfcompile

// The resolve stage: the change set applied to the plugins the executable
// has, the restored module made to provide the new set, and the plan.

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/modcache"
)

// resolution is what the resolve stage returns: the plugin set, the new
// binary's record (distinct from the executable's), the plan, the new
// build list, whether the new binary embeds a plugins bundle, and the
// vendor's catalog and policy. The helpers that need the plugin set hang
// off it, and reach the layout and the run through it.
type resolution struct {
	*layout
	plugins      []pluginSpec    // the plugin set to build
	rec          buildRecord     // the new binary's record
	plan         *Plan           // what the change does
	after        gosrc.BuildList // the new build list
	pluginBundle bool            // whether the new binary embeds a plugins bundle
	vendor       *vendor         // the vendor's catalog and policy, nil without
}

// unresolved returns the resolution of a run that resolves no change (no
// plugin set, no plan), under the vendor v (nil for none): what
// CheckBundle and InstallProcess run the helpers of the layout's go
// command with.
func (l *layout) unresolved(v *vendor) *resolution {
	return &resolution{layout: l, rec: l.hostRecord(), vendor: v}
}

// resolve takes the layout and the change set, applies the change set to
// the plugins the executable has, makes the restored module provide the
// new set (local folders through a replace, versions through go get), and
// returns the resolution, whose plan says what changes: the plugins added,
// removed and upgraded, the host dependencies the new set moves, and what
// is carried from local folders. A module that only the network has is
// reported here, before anything is built. The vendor's checks run at two
// points: before the go command lists the build (names, versions, the
// policy) and after (the modules it lists). logPlan logs the plan.
func (l *layout) resolve(ctx context.Context, cs *changeSet, logPlan bool) (*resolution, error) {
	done := l.stage(StageResolve)
	res := &resolution{layout: l, rec: l.hostRecord()}
	installed := res.rec.Plugins
	cs, err := res.admit(ctx, cs)
	if err != nil {
		return nil, err
	}
	pkgs, err := res.list(ctx)
	if err != nil {
		return nil, err
	}
	if err := res.checkBuildList(cs); err != nil {
		return nil, err
	}
	carried, err := res.stageLocal(pkgs)
	if err != nil {
		return nil, err
	}
	if err := res.record(cs); err != nil {
		return nil, err
	}
	res.plan = makePlan(l.bin.Path, installed, res.rec.Plugins, l.bin.HostList, l.bin.LastList, res.after)
	res.plan.Carried = carried
	if logPlan {
		l.c.logf("%s", strings.TrimSuffix(res.plan.String(), "\n"))
	}
	done()
	failpoint.Hit(ctx, "planned")
	return res, nil
}

// admit restores the plugins bundle, loads the vendor's catalog
// and policy for a change that adds or upgrades, and sets the plugin set:
// the change applied, with the catalog's names resolved to import paths
// and versions, and what the policy forbids refused, before any go
// command runs. It returns the change set as the catalog names it, a new
// one: cs is not changed.
func (res *resolution) admit(ctx context.Context, cs *changeSet) (*changeSet, error) {
	local, err := res.restorePluginBundle()
	if err != nil {
		return nil, err
	}
	failpoint.Hit(ctx, "plugins-restored")
	if len(cs.adds) > 0 || len(cs.upgrades) > 0 || cs.upgradeAll { // a removal needs no catalog
		if res.vendor, err = res.c.loadVendor(ctx, res.bin, res.rec, res.cache); err != nil {
			return nil, err
		}
	}
	cs = res.vendor.names(cs)
	if res.plugins, err = desiredPlugins(res.rec.Plugins, local, cs); err != nil {
		return nil, err
	}
	if err := res.applyVendor(); err != nil {
		return nil, err
	}
	return cs, res.checkLocal()
}

// list writes the plugin set into the restored go.mod and lists the
// packages of the program and the plugins, and the new build list.
func (res *resolution) list(ctx context.Context) ([]gosrc.Package, error) {
	queried, err := res.require(ctx)
	if err != nil {
		return nil, err
	}
	failpoint.Hit(ctx, "required")
	pkgs, err := res.listAll(ctx, queried)
	if err != nil {
		return nil, err
	}
	if queried {
		if err := res.requireImported(pkgs); err != nil {
			return nil, err
		}
	}
	return pkgs, nil
}

// checkBuildList checks, once the build list is known, the modules it has
// that the vendor's catalog speaks for, and, for a declared set, the
// versions it names.
func (res *resolution) checkBuildList(cs *changeSet) error {
	if err := res.checkModules(); err != nil {
		return err
	}
	return res.checkExact(cs)
}

// record sets the new binary's record: the plugins, checked against the
// hashes the change expects, and the host's version.
func (res *resolution) record(cs *changeSet) error {
	if err := res.recordPlugins(); err != nil {
		return err
	}
	if err := res.checkSums(cs.sums); err != nil {
		return err
	}
	res.rec.HostVersion = cmp.Or(res.rec.HostVersion, hostVersion(res.c, res.bin, res.rec))
	res.pluginBundle = len(res.rec.Plugins) > 0 || res.rec.HostVersion != ""
	return nil
}

// goMod is the restored host's go.mod between the steps that edit it: each
// edit reads it (the go command may have changed it since) and writes it
// back.
type goMod struct{ path string }

// edit applies change to the go.mod and writes it.
func (m *goMod) edit(change func(*modfile.File) error) error {
	f, err := m.read()
	if err != nil {
		return err
	}
	if err := change(f); err != nil {
		return err
	}
	f.Cleanup()
	return os.WriteFile(m.path, modfile.Format(f.Syntax), 0o644)
}

// read reads and parses the go.mod.
func (m *goMod) read() (*modfile.File, error) {
	f, err := gosrc.ReadModFile(m.path)
	if err != nil {
		return nil, fmt.Errorf("reading the host's go.mod: %w", err)
	}
	return f, nil
}

// localVersion is the version a module replaced by a local directory is
// required at.
const localVersion = "v0.0.0-00010101000000-000000000000"

// require writes the plugin set into the restored go.mod: a requirement
// and a replace for each local plugin (its folder, or the copy the binary
// carries), the recorded version of each installed one (unless the host
// requires more), and, for each new version, the module version its query
// resolves to (queryPlugins), with no package loaded: what the plugins
// import is added by go list, for this build only. It reports whether it
// resolved any query.
func (res *resolution) require(ctx context.Context) (queried bool, err error) {
	var get []int
	err = res.gomod.edit(func(f *modfile.File) error {
		for i, p := range res.plugins {
			if o := p.installed; o != nil && o.Version != "" && p.moduleDir == "" {
				// What the upgrade query upgrades from: it never lowers it.
				if err := requireAtLeast(f, o.Module, o.Version); err != nil {
					return err
				}
			}
			switch {
			case p.moduleDir != "":
				if err := requireLocal(f, p.modulePath, res.relToModule(p.moduleDir)); err != nil {
					return err
				}
			case p.pinned:
				if err := requireAtLeast(f, p.modulePath, p.version); err != nil {
					return err
				}
			case p.version != "":
				get = append(get, i)
			}
		}
		return nil
	})
	if err != nil || len(get) == 0 {
		return false, err
	}
	ps := make([]pluginSpec, len(get))
	for j, i := range get {
		ps[j] = res.plugins[i]
	}
	versions, err := res.queryPlugins(ctx, ps)
	if err != nil {
		return false, err
	}
	return true, res.gomod.edit(func(f *modfile.File) error {
		for j, i := range get {
			res.plugins[i].modulePath = versions[j].Path
			if err := f.AddRequire(versions[j].Path, versions[j].Version); err != nil {
				return err
			}
		}
		return nil
	})
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
func (res *resolution) relToModule(dir string) string {
	rel, err := filepath.Rel(res.dirs.module, dir)
	if err != nil || !strings.HasPrefix(dir, res.workdir) {
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

// listPlugins lists, in one go list, the packages of the plugins, with
// those of the program when whole: it checks that each plugin is a
// package a plugin may be and finds what only the network has before
// anything is built. A whole listing also counts the packages the build
// will have. The listing also says what builds local plugins
// (stageLocal).
func (res *resolution) listPlugins(ctx context.Context, whole bool) ([]gosrc.Package, error) {
	args := []string{"-deps", "--"}
	if whole {
		args = append(args, "./"+res.bin.Shared.Manifest.MainDir)
	}
	for _, p := range res.plugins {
		args = append(args, p.importPath)
	}
	pkgs, err := gosrc.List(ctx, res.g, nil, args...)
	if err != nil {
		return nil, res.resolveError(err)
	}
	byPath := map[string]gosrc.Package{}
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	if whole {
		res.meter.packages.Store(int64(len(byPath)))
	}
	for i, p := range res.plugins {
		if err := res.checkPackage(&res.plugins[i], byPath[p.importPath]); err != nil {
			return nil, res.withReplaceHint(err)
		}
	}
	for _, p := range pkgs {
		if p.Error != nil && needsNetwork(p.Error.Err) {
			return nil, res.withReplaceHint(&NetworkError{Plugins: res.newPlugins(), Module: p.ImportPath, Version: "latest", Reason: strings.TrimSpace(p.Error.Err)})
		}
	}
	return pkgs, nil
}

// listResult is the output of a go list -m all.
type listResult struct {
	out []byte
	err error
}

// listAll lists the packages of the program and the plugins, and the
// build list after them. The package listing adds to go.mod the modules
// that provide what the plugins import, which may be new to the graph:
// the build list is listed beside it, and again if it changed go.mod;
// after new requirements (queried), only after it, since both commands
// would update go.mod, which the go command refuses to do at once.
//
// A change that queried nothing lists the plugins alone first: when that
// added nothing to go.mod and the program's own modules stay at the
// versions the installed binary was built with, its packages are what
// that build had, and the build counts them while it runs (countPackages).
// That listing is most of a repeat install's resolve stage.
func (res *resolution) listAll(ctx context.Context, queried bool) ([]gosrc.Package, error) {
	if !queried && len(res.plugins) > 0 {
		pkgs, after, err := res.listNew(ctx)
		if pkgs != nil || err != nil {
			res.after = after
			return pkgs, err
		}
	}
	before := readIfExists(res.gomod.path)
	var beside chan listResult
	if !queried {
		beside = make(chan listResult, 1)
		go func() { beside <- res.listMods(ctx) }()
	}
	pkgs, err := res.listPlugins(ctx, true)
	var m listResult
	if beside != nil {
		m = <-beside
	}
	if err != nil {
		return nil, err
	}
	failpoint.Hit(ctx, "listed")
	if beside == nil || readIfExists(res.gomod.path) != before {
		m = res.listMods(ctx)
	}
	res.after, err = res.parseMods(m)
	return pkgs, err
}

// listNew lists the plugins' packages and, beside them, the build list.
// It returns no packages when the listing changed go.mod or the build
// list moves a module of the program's: the whole program must be listed.
func (res *resolution) listNew(ctx context.Context) ([]gosrc.Package, gosrc.BuildList, error) {
	before := readIfExists(res.gomod.path)
	beside := make(chan listResult, 1)
	go func() { beside <- res.listMods(ctx) }()
	pkgs, err := res.listPlugins(ctx, false)
	m := <-beside
	if err != nil {
		return nil, nil, err
	}
	if readIfExists(res.gomod.path) != before {
		return nil, nil, nil
	}
	after, err := res.parseMods(m)
	if err != nil || len(movedHostModules(res.bin.HostList, res.bin.LastList, after)) > 0 {
		return nil, nil, err
	}
	failpoint.Hit(ctx, "listed")
	return pkgs, after, nil
}

// listMods runs go list -m all: the build list of the go.mod as it is.
func (res *resolution) listMods(ctx context.Context) listResult {
	out, err := res.g.Run(ctx, "list", "-m", "all")
	return listResult{out, err}
}

// parseMods parses the output of listMods, or makes its failure a typed
// error.
func (res *resolution) parseMods(m listResult) (gosrc.BuildList, error) {
	if m.err != nil {
		return nil, res.resolveError(m.err)
	}
	return gosrc.ParseModList(strings.Split(strings.TrimSpace(string(m.out)), "\n"))
}

// requireImported makes go.mod require, as go get does for what it adds,
// each module that provides a package of the build, at the version the
// build list selects (so the build list stays as listed). The plugins
// bundle carries the requirements beyond the host's (addedRequires): a
// later install that removes the plugin whose requirements brought a
// module in still finds it for the plugins that import it.
func (res *resolution) requireImported(pkgs []gosrc.Package) error {
	return res.gomod.edit(func(f *modfile.File) error {
		for _, p := range pkgs {
			if m := p.Module; m != nil && !m.Main && m.Version != "" {
				if err := requireAtLeast(f, m.Path, m.Version); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// checkPackage checks what go list says of a plugin's package, and notes
// the module that provides it.
func (res *resolution) checkPackage(p *pluginSpec, lp gosrc.Package) error {
	bad := func(reason string) error { return &PluginError{Spec: p.raw, Reason: reason} }
	main := res.bin.Shared.Manifest.MainModule
	switch {
	case lp.ImportPath == "":
		return bad("go list did not report it")
	case lp.Error != nil && (p.importPath == main || strings.HasPrefix(p.importPath, main+"/")):
		return bad("there is no such package in the host module " + main + ": " + strings.TrimSpace(lp.Error.Err))
	case lp.Error != nil && needsNetwork(lp.Error.Err):
		return &NetworkError{Plugins: []string{p.raw}, Module: cmp.Or(p.modulePath, p.importPath), Version: cmp.Or(p.version, "latest"), Reason: strings.TrimSpace(lp.Error.Err)}
	case lp.Error != nil:
		return bad(strings.TrimSpace(lp.Error.Err))
	case lp.Standard:
		return bad("it is a standard library package, not a plugin")
	case lp.Name == "main":
		return bad("it is a main package (a program), not a plugin; a plugin is a library package that registers itself in init")
	case lp.Module == nil:
		return bad("it is not provided by any module")
	}
	p.listed = lp.Module
	return nil
}

// recordPlugins sets the plugins as the new binary records them: module,
// version and hash, and where they came from.
func (res *resolution) recordPlugins() error {
	sums := goSums(readIfExists(filepath.Join(res.dirs.module, "go.sum")))
	res.rec.Plugins = nil
	for _, p := range res.plugins {
		info := PluginInfo{ImportPath: p.importPath, Module: p.listed.Path, Version: p.listed.Version, Origin: "module"}
		switch {
		case p.listed.Main:
			info.Module, info.Version, info.Origin = "", "", "host"
		case p.moduleDir != "":
			sum, err := localSum(p.modulePath, p.moduleDir)
			if err != nil {
				return err
			}
			info.Version, info.Local, info.Sum, info.Origin = "", p.dir, sum, "local"
		default:
			info.Sum = sums[info.Module+" "+info.Version]
		}
		if l := p.listedIn; l != nil {
			info.Origin, info.Name, info.Catalog = "catalog", l.name, l.seq
		} else if o := p.installed; o != nil && o.Origin == "catalog" && o.Version == info.Version {
			info.Origin, info.Name, info.Catalog = o.Origin, o.Name, o.Catalog // kept as installed
		}
		res.rec.Plugins = append(res.rec.Plugins, info)
	}
	return nil
}

// checkExact refuses, for a declared set (Change.Exactly), a plugin that
// the build would use at another version than the one the set names: the
// go command's minimal version selection can raise it.
func (res *resolution) checkExact(cs *changeSet) error {
	if !cs.exactly {
		return nil
	}
	for _, p := range res.plugins {
		if p.isNew && semver.IsValid(p.version) && p.listed != nil && p.listed.Version != p.version {
			return &PluginError{Spec: p.raw, Reason: fmt.Sprintf("the set names %s and the build would use %s (another plugin requires it)", p.version, p.listed.Version)}
		}
	}
	return nil
}

// checkSums refuses a plugin whose hash is not the one the change expects
// (a declared set's, as plugin sync enforces it), named by the spec as
// given or by its import path: a module's files hashed here, a local
// folder's as carried. A hash for a plugin not in the set is refused too.
func (res *resolution) checkSums(want map[string]string) error {
	used := 0
	for i, p := range res.rec.Plugins {
		sp := res.plugins[i]
		w, ok := want[sp.raw]
		if !ok {
			w, ok = want[p.ImportPath]
		}
		if !ok {
			continue
		}
		used++
		sum := p.Sum
		if p.Local == "" && p.Module != "" {
			var err error
			if sum, err = modcache.Sum(res.dirs.modcache, module.Version{Path: p.Module, Version: p.Version}); err != nil {
				return err
			}
		}
		if w != sum {
			return &PluginError{Spec: sp.raw, Reason: fmt.Sprintf("its hash is %s, and the change expects %s", cmp.Or(sum, "(none)"), w)}
		}
	}
	if used < len(want) {
		return &PluginError{Spec: "(hashes)", Reason: fmt.Sprintf("the change gives hashes for %d plugins, of which %d are in the set: a hash names a plugin the set does not have", len(want), used)}
	}
	return nil
}
