package selfcompile

// The change model: a change set, the plugin set it gives from the
// installed one, and the plan that compares them.

import (
	"cmp"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/spec"
)

// Change is a change to a binary's plugin set, made in one rebuild. Its
// zero value changes nothing.
type Change struct {
	// Add installs plugins, each an import path, "path@version" (a
	// semantic version, "latest", a pseudo-version or a commit) or a local
	// directory (a path starting with "./", "../" or "/"). An installed
	// plugin with the same import path is replaced.
	Add []string `json:"add,omitempty"`
	// Remove uninstalls plugins, named by their import paths.
	Remove []string `json:"remove,omitempty"`
	// Upgrade moves installed plugins, named by import path, to the
	// newest version the go command's "upgrade" query gives, which never
	// lowers one, or to the version of "path@version"; a plugin from a
	// local folder is read again from that folder if it still exists.
	Upgrade []string `json:"upgrade,omitempty"`
	// UpgradeAll upgrades every installed plugin so.
	UpgradeAll bool `json:"upgrade_all,omitempty"`
	// Exactly makes the plugin set exactly what Add lists: the plugins not
	// in it are removed. A plugin in it that is installed as given is
	// kept, so a declared set that is already installed builds nothing.
	Exactly bool `json:"exactly,omitempty"`
	// Sums are the h1: hashes the plugins must have, by import path (a
	// module plugin's is its module's, as go.sum has it): a plugin with
	// another is refused before building.
	Sums map[string]string `json:"sums,omitempty"`
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
	// version the change moves from the one the installed binary has
	// (minimal version selection can raise them, a plugin that is such a
	// module, from a version or a local folder, can move it either way,
	// and removing the plugin that moved one moves it back).
	HostDeps []VersionChange `json:"host_deps,omitempty"`
	// Carried lists, for each plugin taken from a local folder now, the
	// files of its module that the binary will carry, relative to the
	// module's root: what builds its packages, its go.mod, go.sum and
	// licence, nothing else.
	Carried map[string][]string `json:"carried,omitempty"`
	// Backup is the previous binary: for Apply, the backup the swap kept
	// (run it as "BACKUP plugin rollback" to put it back if the new binary
	// does not start); for PlanRollback, the backup it would put back.
	Backup string `json:"backup,omitempty"`
	// Took is how long the change took, and DiskUsed how much less free
	// space the disk holding the cache has after it than before: the
	// toolchain, modules and build cache it added, the new binary when it
	// is on that disk, and whatever else wrote to the disk meanwhile (a
	// walk of the cache would cost a repeat install more than its other
	// stages); 0 when it could not be measured. Set by Apply.
	Took     time.Duration `json:"took,omitempty"`
	DiskUsed int64         `json:"disk_used,omitempty"`
	// Estimate is, when the build is cold (its build cache lacks most of
	// the program's packages, as on its first install on a machine), what
	// it is expected to cost: packages, time and disk; nil otherwise. Set by
	// Plan and Apply, which logs it before it builds.
	Estimate *Estimate `json:"estimate,omitempty"`
}

// VersionChange is a module or plugin moving from one version to another.
type VersionChange struct {
	Path string `json:"path"`
	Old  string `json:"old"`
	New  string `json:"new"`
	// Lower reports that New is a lower version than Old: a downgrade,
	// which a change makes only when the user names the version.
	Lower bool `json:"lower,omitempty"`
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
		fmt.Fprintf(&b, "  upgrade  %s %s => %s%s\n", u.Path, u.Old, u.New, lowerNote(u))
	}
	for _, h := range p.HostDeps {
		fmt.Fprintf(&b, "  host dependency %s %s => %s%s\n", h.Path, orNone(h.Old), orNone(h.New), lowerNote(h))
	}
	for _, path := range slices.Sorted(maps.Keys(p.Carried)) {
		fmt.Fprintf(&b, "  carry    %s: %s\n", path, strings.Join(p.Carried[path], " "))
	}
	if p.Empty() {
		b.WriteString("  no change to the plugins\n")
	}
	return b.String()
}

func lowerNote(v VersionChange) string {
	if v.Lower {
		return " (a lower version)"
	}
	return ""
}

func orNone(v string) string { return cmp.Or(v, "(none)") }

// changeSet is a validated change set.
type changeSet struct {
	adds       []pluginSpec
	removes    map[string]bool   // import paths
	upgrades   map[string]string // import path -> version ("upgrade" if none)
	upgradeAll bool
	exactly    bool              // the plugins not added are removed
	sums       map[string]string // import path -> the h1: hash it must have
	refreshed  []string          // import paths of the folders given to upgrade: added again, and installed
}

// parseChanges validates a change set before any work.
func parseChanges(ch Change) (*changeSet, error) {
	cs := &changeSet{removes: map[string]bool{}, upgrades: map[string]string{}, upgradeAll: ch.UpgradeAll, exactly: ch.Exactly, sums: ch.Sums}
	for _, arg := range ch.Add {
		sp, err := parseSpec(arg)
		if err != nil {
			return nil, err
		}
		cs.adds = append(cs.adds, sp)
	}
	for _, arg := range ch.Remove {
		if err := module.CheckImportPath(arg); err != nil {
			return nil, &PluginError{Spec: arg, Reason: "remove takes an installed plugin's import path: " + spec.PathReason(err)}
		}
		cs.removes[arg] = true
	}
	for _, arg := range ch.Upgrade {
		if err := cs.addUpgrade(arg); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

// addUpgrade adds an upgrade to the change set: an installed plugin's
// import path, with a version or not, or the folder of an installed local
// plugin, whose source is then carried again, as an add of it does.
func (cs *changeSet) addUpgrade(arg string) error {
	sp, err := parseSpec(arg)
	if err != nil {
		return err
	}
	if spec.IsLocal(arg) {
		cs.adds = append(cs.adds, sp)
		cs.refreshed = append(cs.refreshed, sp.importPath)
		return nil
	}
	cs.upgrades[sp.importPath] = cmp.Or(sp.version, "upgrade")
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
	for _, path := range slices.Concat(slices.Collect(maps.Keys(cs.upgrades)), cs.refreshed) {
		if !has(path) {
			return nil, &PluginError{Spec: path, Reason: "it is not installed; add it instead"}
		}
	}
	for i, s := range cs.adds {
		if j := slices.IndexFunc(cs.adds[:i], func(o pluginSpec) bool { return o.importPath == s.importPath }); j >= 0 {
			return nil, &PluginError{Spec: s.raw, Reason: fmt.Sprintf("the change adds %s twice (also as %s): name it once", s.importPath, cs.adds[j].raw)}
		}
	}
	var out []pluginSpec
	for _, p := range installed {
		if cs.removes[p.ImportPath] || cs.exactly || slices.ContainsFunc(cs.adds, func(s pluginSpec) bool { return s.importPath == p.ImportPath }) {
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
	sp := pluginSpec{raw: p.ImportPath, importPath: p.ImportPath, modulePath: p.Module, installed: &p}
	switch {
	case p.Local != "":
		sp.dir = p.Local
		origin := localModuleDir(p)
		sp.moduleDir = local[p.Module]
		if sp.moduleDir == "" || (upgrade && fsutil.IsDir(origin)) {
			sp.moduleDir, sp.isNew = origin, upgrade
		}
	case p.Version != "" && upgrade:
		sp.version, sp.isNew = cmp.Or(version, "upgrade"), true
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

// makePlan compares the installed plugins with the new ones, and the
// versions of the host's own modules (those of its build list host) in
// the installed binary's build list with the new build list. last is the
// build list the installed binary was built with, nil for the host's own.
func makePlan(target string, installed, plugins []PluginInfo, host, last, after gosrc.BuildList) *Plan {
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
		case o.Version != n.Version || o.Local != n.Local || o.Sum != n.Sum:
			p.Upgraded = append(p.Upgraded, pluginChange(o, n))
		}
		delete(old, n.ImportPath)
	}
	for _, i := range installed {
		if _, ok := old[i.ImportPath]; ok {
			p.Removed = append(p.Removed, i)
		}
	}
	for path, h := range movedHostModules(host, last, after) {
		p.HostDeps = append(p.HostDeps, moduleChange(path, h, after[path], installed, plugins))
	}
	slices.SortFunc(p.HostDeps, func(a, b VersionChange) int { return strings.Compare(a.Path, b.Path) })
	return p
}

// pluginChange describes a plugin's move from o to n.
func pluginChange(o, n PluginInfo) VersionChange {
	old, new := o.describeVersion(), n.describeVersion()
	if old == new { // the same folder, changed
		old, new = old+" ("+shortSum(o.Sum)+")", new+" ("+shortSum(n.Sum)+")"
	}
	return VersionChange{Path: n.ImportPath, Old: old, New: new, Lower: lower(o.Version, n.Version)}
}

// movedHostModules returns the modules of the host's build list whose
// version or replacement after differs from the one the installed binary
// was built with (last, for the modules it has; host for the others),
// with that one.
func movedHostModules(host, last, after gosrc.BuildList) map[string]gosrc.Module {
	moved := map[string]gosrc.Module{}
	for path, h := range host {
		if l, ok := last[path]; ok {
			h = l
		}
		if a := after[path]; !h.Main && (a.Version != h.Version || !sameReplace(a.Replace, h.Replace)) {
			moved[path] = h
		}
	}
	return moved
}

// moduleChange describes a host module's move from the module o, as the
// installed build list has it with the installed plugins, to the module
// a, as the new one has it with the new plugins.
func moduleChange(path string, o, a gosrc.Module, installed, plugins []PluginInfo) VersionChange {
	old, new := describeModule(path, o, installed), describeModule(path, a, plugins)
	return VersionChange{Path: path, Old: old, New: new, Lower: lower(old, new)}
}

// describeModule names the version of a module in a build list: its
// version ("" for none), the version that replaces it, or "local DIR" for
// a directory that does, DIR named as the local plugin that is that
// module names its folder, if plugins has it.
func describeModule(path string, m gosrc.Module, plugins []PluginInfo) string {
	switch {
	case m.Replace == nil:
		return m.Version
	case m.Replace.Version != "":
		return m.Replace.Version
	}
	dir := m.Replace.Path
	for _, p := range plugins {
		if p.Module == path && p.Local != "" {
			dir = localModuleDir(p)
		}
	}
	return "local " + dir
}

func sameReplace(a, b *module.Version) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// lower reports whether the version new is lower than old.
func lower(old, new string) bool {
	return semver.IsValid(old) && semver.IsValid(new) && semver.Compare(new, old) < 0
}

func shortSum(sum string) string {
	if len(sum) > 11 {
		return sum[:11]
	}
	return cmp.Or(sum, "no sum")
}
