package selfcompile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// Op is the kind of a Change.
type Op int

// The changes Apply makes to a binary's plugin set.
const (
	// Add installs a plugin, or replaces an installed one with the same
	// import path.
	Add Op = iota
	// Remove uninstalls a plugin, named by its import path.
	Remove
	// Upgrade moves a plugin to "path@version", or to its latest version
	// when no version is given; a plugin from a local folder is read again
	// from that folder if it still exists. An empty Spec upgrades every
	// plugin.
	Upgrade
)

// String returns the change's name, as the example's commands spell it.
func (o Op) String() string {
	switch o {
	case Remove:
		return "remove"
	case Upgrade:
		return "upgrade"
	}
	return "add"
}

// Change is one change to a binary's plugin set.
type Change struct {
	Op   Op
	Spec string
}

// Plan describes what an Apply changes, computed before anything is built.
type Plan struct {
	// Target is the executable the plan is for.
	Target string
	// Added, Removed and Upgraded are the plugin changes; Plugins is the
	// resulting set.
	Added, Removed []PluginInfo
	Upgraded       []VersionChange
	Plugins        []PluginInfo
	// HostDeps lists the host's own dependencies whose version the new
	// plugin set changes (minimal version selection can raise them).
	HostDeps []VersionChange
}

// VersionChange is a module or plugin moving from one version to another.
type VersionChange struct {
	Path     string
	Old, New string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.Added)+len(p.Removed)+len(p.Upgraded)+len(p.HostDeps) == 0
}

// String formats the plan for a person, one change per line.
func (p *Plan) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Plan for %s:\n", p.Target)
	for _, a := range p.Added {
		fmt.Fprintf(&b, "  add      %s\n", a.Describe())
	}
	for _, r := range p.Removed {
		fmt.Fprintf(&b, "  remove   %s\n", r.Describe())
	}
	for _, u := range p.Upgraded {
		fmt.Fprintf(&b, "  upgrade  %s %s => %s\n", u.Path, u.Old, u.New)
	}
	for _, h := range p.HostDeps {
		fmt.Fprintf(&b, "  host dependency %s %s => %s\n", h.Path, cmpOr(h.Old, "(none)"), h.New)
	}
	if p.Empty() {
		b.WriteString("  no change\n")
	}
	return b.String()
}

// Describe formats a plugin as one line of "plugin list": its import path,
// then its version, or "local" and the folder it came from, or "host" for
// a package of the host's own module.
func (p PluginInfo) Describe() string {
	switch {
	case p.Local != "":
		return p.ImportPath + " local " + p.Local
	case p.Version != "":
		return p.ImportPath + " " + p.Version
	}
	return p.ImportPath + " host"
}

// PlanError reports a plan that a policy refuses. It matches
// ErrHostDepsChanged.
type PlanError struct {
	Plan *Plan
}

// Error describes what went wrong and what to do.
func (e *PlanError) Error() string {
	var b strings.Builder
	b.WriteString("selfcompile: refused: the plugins would change these dependencies of the host, and KeepHostDeps is set; nothing was built:\n")
	for _, h := range e.Plan.HostDeps {
		fmt.Fprintf(&b, "  %s %s => %s\n", h.Path, cmpOr(h.Old, "(none)"), h.New)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Is reports whether target is ErrHostDepsChanged.
func (e *PlanError) Is(target error) bool { return target == ErrHostDepsChanged }

// changeSet is a validated change set.
type changeSet struct {
	adds       []pluginSpec
	removes    map[string]bool   // import paths
	upgrades   map[string]string // import path -> version ("latest" if none)
	upgradeAll bool
}

// parseChanges validates a change set before any work.
func parseChanges(changes []Change) (*changeSet, error) {
	cs := &changeSet{removes: map[string]bool{}, upgrades: map[string]string{}}
	for _, ch := range changes {
		switch ch.Op {
		case Add:
			sp, err := parseSpec(ch.Spec)
			if err != nil {
				return nil, err
			}
			cs.adds = append(cs.adds, sp)
		case Remove:
			if err := module.CheckImportPath(ch.Spec); err != nil {
				return nil, &PluginError{Spec: ch.Spec, Reason: "remove takes an installed plugin's import path: " + pathReason(err)}
			}
			cs.removes[ch.Spec] = true
		case Upgrade:
			if ch.Spec == "" {
				cs.upgradeAll = true
				continue
			}
			if isLocalSpec(ch.Spec) {
				return nil, &PluginError{Spec: ch.Spec, Reason: "upgrade takes an installed plugin's import path, optionally with @version"}
			}
			sp, err := parseSpec(ch.Spec)
			if err != nil {
				return nil, err
			}
			cs.upgrades[sp.importPath] = cmpOr(sp.version, "latest")
		default:
			return nil, fmt.Errorf("selfcompile: unknown change %d", ch.Op)
		}
	}
	return cs, nil
}

// desiredPlugins applies a change set to the installed plugins. local maps
// the module path of each local plugin to the copy of its source that the
// binary carries.
func desiredPlugins(installed []PluginInfo, local map[string]string, cs *changeSet) ([]pluginSpec, error) {
	has := func(path string) bool {
		return slices.ContainsFunc(installed, func(p PluginInfo) bool { return p.ImportPath == path })
	}
	for path := range cs.removes {
		if !has(path) {
			return nil, &PluginError{Spec: path, Reason: "it is not installed (see plugin list)"}
		}
	}
	for path := range cs.upgrades {
		if !has(path) {
			return nil, &PluginError{Spec: path, Reason: "it is not installed; add it instead"}
		}
	}
	var out []pluginSpec
	for _, p := range installed {
		if cs.removes[p.ImportPath] || slices.ContainsFunc(cs.adds, func(s pluginSpec) bool { return s.importPath == p.ImportPath }) {
			continue
		}
		version, upgrade := cs.upgrades[p.ImportPath]
		upgrade = upgrade || cs.upgradeAll
		sp := pluginSpec{raw: p.ImportPath, importPath: p.ImportPath, modulePath: p.Module}
		switch {
		case p.Local != "":
			sp.dir = p.Local
			origin := localModuleDir(p)
			sp.moduleDir = local[p.Module]
			if sp.moduleDir == "" || (upgrade && isDir(origin)) {
				sp.moduleDir, sp.isNew = origin, upgrade
			}
		case p.Version != "":
			if upgrade {
				sp.version, sp.isNew = cmpOr(version, "latest"), true
			} else {
				sp.version, sp.pinned = p.Version, true
			}
		}
		out = append(out, sp)
	}
	for _, s := range cs.adds {
		s.isNew = true
		out = append(out, s)
	}
	return out, nil
}

// localModuleDir returns the module root of a plugin installed from a
// local directory: the directory minus the package's path inside its module.
func localModuleDir(p PluginInfo) string {
	rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, p.Module), "/")
	if rel == "" {
		return p.Local
	}
	return strings.TrimSuffix(strings.TrimSuffix(p.Local, filepath.FromSlash(rel)), string(filepath.Separator))
}

// listedModule is what go list -m reports of a module.
type listedModule struct {
	Path, Version string
	Main          bool
	Replace       *struct{ Path, Version, Dir string }
}

// buildList returns the module graph's selected versions, by path.
func buildList(ctx context.Context, g *goTool) (map[string]listedModule, error) {
	out, err := g.run(ctx, "list", "-mod=mod", "-m", "all")
	if err != nil {
		return nil, err
	}
	return parseModList(out)
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
			m = listedModule{Path: f[0], Version: f[1], Replace: &struct{ Path, Version, Dir string }{Path: f[3], Dir: f[3]}}
		case len(f) == 5 && f[2] == "=>":
			m = listedModule{Path: f[0], Version: f[1], Replace: &struct{ Path, Version, Dir string }{Path: f[3], Version: f[4]}}
		default:
			return nil, fmt.Errorf("selfcompile: unexpected go list -m line %q", line)
		}
		mods[m.Path] = m
	}
	return mods, nil
}

// makePlan compares the installed plugins and build list with the new ones.
func makePlan(target string, installed, plugins []PluginInfo, before, after map[string]listedModule) *Plan {
	p := &Plan{Target: target, Plugins: plugins}
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
			p.Upgraded = append(p.Upgraded, VersionChange{n.ImportPath, versionOf(o), versionOf(n)})
		}
		delete(old, n.ImportPath)
	}
	for _, i := range installed {
		if _, ok := old[i.ImportPath]; ok {
			p.Removed = append(p.Removed, i)
		}
	}
	pluginMods := map[string]bool{}
	for _, n := range plugins {
		pluginMods[n.Module] = true
	}
	for path, b := range before {
		a, ok := after[path]
		if b.Main || pluginMods[path] || !ok {
			continue
		}
		if a.Version != b.Version {
			p.HostDeps = append(p.HostDeps, VersionChange{path, b.Version, a.Version})
		}
	}
	slices.SortFunc(p.HostDeps, func(a, b VersionChange) int { return strings.Compare(a.Path, b.Path) })
	return p
}

func versionOf(p PluginInfo) string {
	if p.Local != "" {
		return "local " + p.Local
	}
	return cmpOr(p.Version, "host")
}

// Rollback puts back the previous binary, kept by the last install, after
// checking that it starts. The binary it replaces becomes the newest
// backup, so a second Rollback undoes the first.
func (c *SelfCompile) Rollback(ctx context.Context) error {
	target, err := c.target()
	if err != nil {
		return err
	}
	release, err := c.lock(ctx, target)
	if err != nil {
		return err
	}
	defer release()
	bs := backups(target)
	if len(bs) == 0 {
		return fmt.Errorf("%w beside %s (installs keep SelfCompile.Backups of them)", ErrNoBackup, target)
	}
	prev := bs[0]
	c.logf("Verifying: %s", prev)
	if _, err := probe(ctx, prev, c.ProbeTimeout, ""); err != nil {
		return fmt.Errorf("selfcompile: the previous binary %s does not start: %w", prev, err)
	}
	// Stage it by a hard link, so that it stays a backup if the swap fails.
	stage, err := newStageDir(target)
	if err != nil {
		return &TargetError{Path: target, Err: err}
	}
	defer os.RemoveAll(stage)
	staged := filepath.Join(stage, filepath.Base(target))
	if err := os.Link(prev, staged); err != nil {
		if err := copyFile(prev, staged); err != nil {
			return err
		}
	}
	c.logf("Replacing binary: %s", target)
	if err := c.swapIn(target, staged); err != nil {
		return err
	}
	os.Remove(prev) // now the installed binary; with Backups > 1 it would stay as a duplicate
	return nil
}
