package selfcompile

import (
	"cmp"
	"context"
	"fmt"
	"maps"
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

// String returns the change's name, as a plugin command spells it.
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
	Target string `json:"target"`
	// Added, Removed and Upgraded are the plugin changes; Plugins is the
	// resulting set.
	Added    []PluginInfo    `json:"added,omitempty"`
	Removed  []PluginInfo    `json:"removed,omitempty"`
	Upgraded []VersionChange `json:"upgraded,omitempty"`
	Plugins  []PluginInfo    `json:"plugins"`
	// HostDeps lists the modules of the host's own build list whose
	// version the new plugin set moves from the host's own (minimal
	// version selection can raise them, and a plugin that is such a module
	// can move it either way).
	HostDeps []VersionChange `json:"host_deps,omitempty"`
	// Carried lists, for each plugin taken from a local folder now, the
	// files of its module that the binary will carry, relative to the
	// module's root: what builds its packages, its go.mod, go.sum and
	// licence, nothing else.
	Carried map[string][]string `json:"carried,omitempty"`
}

// VersionChange is a module or plugin moving from one version to another.
type VersionChange struct {
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.Added)+len(p.Removed)+len(p.Upgraded) == 0
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
		fmt.Fprintf(&b, "  host dependency %s %s => %s\n", h.Path, orNone(h.Old), orNone(h.New))
	}
	for _, path := range slices.Sorted(maps.Keys(p.Carried)) {
		fmt.Fprintf(&b, "  carry    %s: %s\n", path, strings.Join(p.Carried[path], " "))
	}
	if p.Empty() {
		b.WriteString("  no change to the plugins\n")
	}
	return b.String()
}

func orNone(v string) string { return cmp.Or(v, "(none)") }

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
			if err := cs.addUpgrade(ch.Spec); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("selfcompile: unknown change %d", ch.Op)
		}
	}
	return cs, nil
}

func (cs *changeSet) addUpgrade(spec string) error {
	if spec == "" {
		cs.upgradeAll = true
		return nil
	}
	if isLocalSpec(spec) {
		return &PluginError{Spec: spec, Reason: "upgrade takes an installed plugin's import path, optionally with @version"}
	}
	sp, err := parseSpec(spec)
	if err != nil {
		return err
	}
	cs.upgrades[sp.importPath] = cmp.Or(sp.version, "latest")
	return nil
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
		out = append(out, cs.kept(p, local))
	}
	for _, s := range cs.adds {
		s.isNew = true
		out = append(out, s)
	}
	return out, nil
}

// kept returns the spec that builds an installed plugin again, upgraded if
// the change set says so.
func (cs *changeSet) kept(p PluginInfo, local map[string]string) pluginSpec {
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
	case p.Version != "" && upgrade:
		sp.version, sp.isNew = cmp.Or(version, "latest"), true
	case p.Version != "":
		sp.version, sp.pinned = p.Version, true
	}
	return sp
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

// Rollback puts back the previous binary, kept by the last install, after
// checking that it is a build of the same program from the same bundles,
// complete, and that it starts. The binary it replaces becomes the newest
// backup, so a second Rollback undoes the first.
func (c *SelfCompile) Rollback(ctx context.Context) error {
	if err := checkUnprivileged(); err != nil {
		return err
	}
	target, err := c.target()
	if err != nil {
		return err
	}
	in := &install{c: c, ctx: ctx}
	defer in.end()
	if err := in.lock(target); err != nil {
		return err
	}
	bs := backups(target)
	if len(bs) == 0 {
		return fmt.Errorf("%w beside %s (installs keep SelfCompile.Backups of them)", ErrNoBackup, target)
	}
	prev := bs[0]
	if err := checkBackup(target, prev); err != nil {
		return err
	}
	c.logf("Verifying: %s", prev)
	if _, err := probe(ctx, prev, c.ProbeTimeout); err != nil {
		return fmt.Errorf("selfcompile: the previous binary %s does not start: %w", prev, err)
	}
	// Staged by a hard link, so that it stays a backup if the swap fails.
	stage, err := newStageDir(target)
	if err != nil {
		return &TargetError{Path: target, Err: err}
	}
	defer os.RemoveAll(stage)
	staged := filepath.Join(stage, filepath.Base(target))
	if err := linkOrCopy(prev, staged); err != nil {
		return &TargetError{Path: target, Err: err}
	}
	c.logf("Replacing binary: %s", target)
	if err := c.swapIn(ctx, target, staged); err != nil {
		return err
	}
	os.Remove(prev) // now the installed binary; with Backups > 1 it would stay as a duplicate
	return nil
}

// checkBackup checks, without running it, that a backup may replace the
// executable: it is a complete executable carrying its bundles, of the
// same main package, built from the same bundles (a package manager may
// have upgraded the program since the backup was made: rolling back then
// would downgrade it).
func checkBackup(target, backup string) error {
	if err := checkBackupFile(target, backup); err != nil {
		return &TargetError{Path: backup, Err: err}
	}
	if err := checkComplete(backup); err != nil {
		return &TargetError{Path: backup, Err: fmt.Errorf("the backup is damaged or truncated: %w", err)}
	}
	prev, err := openBinary(backup)
	if err != nil {
		return &TargetError{Path: backup, Err: fmt.Errorf("the backup is not a self-compiling build of this program: %w", err)}
	}
	defer prev.Close()
	cur, err := openBinary(target)
	if err != nil {
		return nil // the executable is broken: any backup of this program beats it
	}
	defer cur.Close()
	if prev.sharedM.MainPackage != cur.sharedM.MainPackage || prev.build.Main.Path != cur.build.Main.Path {
		return &TargetError{Path: backup, Err: fmt.Errorf("%w: the backup is a build of %s, not of %s", ErrStale, prev.sharedM.MainPackage, cur.sharedM.MainPackage)}
	}
	if !cur.sameHost(trailerOf(prev.shared), trailerOf(prev.toolchain)) {
		return &TargetError{Path: backup, Err: fmt.Errorf("%w: the backup is another build of the program than the one installed now (it was upgraded since?); rolling back would downgrade it", ErrStale)}
	}
	return nil
}
