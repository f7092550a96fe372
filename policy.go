package selfcompile

// The vendor's catalog and policy, applied by an install: plugin names
// resolved through the newest verified catalog, what the policy forbids
// refused before any go command runs, and, once the build list is known,
// every module version the catalog speaks for checked before building.
// Check reports installed plugins the catalog no longer allows.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/modcache"
)

// vendor is the catalog and policy that an install applies.
type vendor struct {
	cfg  *catalog.Config
	cat  *catalog.Catalog
	host string // the host's version, "" when unknown
	main string // the host module: its packages are the vendor's own
}

// loadVendor returns the catalog and policy of the executable bin: the
// program's own configuration (SelfCompile.Vendor), else the one the
// generator put in its shared bundle; nil for none.
func (c *SelfCompile) loadVendor(ctx context.Context, bin *exe.File, rec buildRecord, cache string) (*vendor, error) {
	cfg := c.Vendor
	if cfg == nil {
		raw := bin.Shared.Manifest.Vendor
		if len(raw) == 0 {
			return nil, nil
		}
		cfg = &catalog.Config{}
		if err := json.Unmarshal(raw, cfg); err != nil {
			return nil, fmt.Errorf("%w: the catalog configuration in %s: %v", ErrBundleCorrupt, bin.Path, err)
		}
	}
	if err := cfg.Policy.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCatalog, err)
	}
	cat, err := catalog.Load(ctx, cfg, filepath.Join(cache, catalogsDir), offline(), c.logf)
	if errors.Is(err, catalog.ErrUnreachable) {
		return nil, &NetworkError{Plugins: []string{"(the vendor's catalog)"}, Module: cfg.URL, Version: "latest", Reason: err.Error()}
	}
	if errors.Is(err, catalog.ErrMissing) {
		return nil, fmt.Errorf("%w: the program's catalog URL is wrong, or its vendor has not published the catalog there", err)
	}
	if err != nil {
		return nil, err
	}
	return &vendor{cfg: cfg, cat: cat, host: hostVersion(c, bin, rec), main: bin.Shared.Manifest.MainModule}, nil
}

// offline reports whether the user's GOPROXY is off, the user's way of
// saying there is no network: the catalog is not fetched then.
func offline() bool {
	for _, kv := range userNetEnv() {
		if kv == "GOPROXY=off" {
			return true
		}
	}
	return false
}

// hostVersion is the version of the host module, for the catalog's host
// constraints: HostVersion, or what the binary records, or its build
// info's, or what the vendor gave the generator (--host-version); "" when
// none is known.
func hostVersion(c *SelfCompile, bin *exe.File, rec buildRecord) string {
	v := cmp.Or(c.HostVersion, rec.HostVersion)
	if m := bin.Build.Main; v == "" && semver.IsValid(m.Version) {
		v = m.Version
	}
	if v == "" && bin.Shared != nil {
		v = bin.Shared.Manifest.HostVersion
	}
	return v
}

// ours reports whether the import path is under the host module's path:
// a package of the host module, or of a module nested under its path,
// which only go list can tell apart (checkProviders).
func (v *vendor) ours(path string) bool {
	return path == v.main || strings.HasPrefix(path, v.main+"/")
}

// names returns the change set cs with the catalog names in it turned
// into the import paths of the plugins they name: a new change set, cs
// unchanged; cs itself without a catalog.
func (v *vendor) names(cs *changeSet) *changeSet {
	if v == nil {
		return cs
	}
	named := *cs
	named.adds = slices.Clone(cs.adds)
	for i := range named.adds {
		v.name(&named.adds[i])
	}
	named.upgrades = map[string]string{}
	for name, version := range cs.upgrades {
		if e, ok := v.cat.ByName(name); ok {
			named.upgrades[e.ImportPath] = version
		} else {
			named.upgrades[name] = version
		}
	}
	return &named
}

// name makes a plugin given by its catalog name the package the catalog
// lists under that name.
func (v *vendor) name(sp *pluginSpec) {
	if e, ok := v.cat.ByName(sp.importPath); ok && sp.moduleDir == "" {
		sp.importPath, sp.modulePath = e.ImportPath, e.Module
	}
}

// applyVendor resolves, for each plugin the change adds or upgrades, a
// listed import path to the version the catalog allows, and refuses what
// the policy forbids: before any go command runs. A package under the
// host module's path, which may be the host's own, waits for go list
// (checkProviders); a local folder does not, whatever its module path.
func (res *resolution) applyVendor() error {
	v := res.vendor
	for i := range res.plugins {
		p := &res.plugins[i]
		if v == nil || !p.isNew || p.moduleDir == "" && v.ours(p.importPath) {
			continue
		}
		if err := v.resolve(p, res.c.AllowUnlisted); err != nil {
			return err
		}
		if note := v.unknownHost(p); note != "" {
			res.c.logf("%s", note)
		}
	}
	return nil
}

// unknownHost says, for a catalog plugin resolved to a version with host
// constraints, that they are not checked when the host's version is
// unknown; "" otherwise.
func (v *vendor) unknownHost(p *pluginSpec) string {
	e, ok := v.cat.ByImportPath(p.importPath)
	if v.host != "" || p.listedIn == nil || !ok {
		return ""
	}
	for _, ver := range e.Versions {
		if ver.Version == p.version && ver.Hosts != "" {
			return fmt.Sprintf("%s %s is for versions %s of the program, and this program records no version of its own: that is not checked (its vendor can name the version: go-selfcompile --host-version)", e.Name, ver.Version, ver.Hosts)
		}
	}
	return ""
}

// resolve applies the catalog and the policy to a plugin being added or
// upgraded.
func (v *vendor) resolve(p *pluginSpec, allowUnlisted bool) error {
	e, listed := v.cat.ByImportPath(p.importPath)
	if !listed || p.moduleDir != "" {
		if p.moduleDir == "" && !strings.Contains(strings.Split(p.importPath, "/")[0], ".") {
			return &PluginError{Spec: p.raw, Reason: "the catalog has no plugin of that name (plugin search lists them)"}
		}
		return v.cfg.Policy.Permit(catalog.Unlisted{Spec: p.raw, Module: cmp.Or(p.modulePath, p.importPath), Local: p.moduleDir != ""}, allowUnlisted)
	}
	if process := e.Kind == catalog.KindProcess; process && !p.process {
		return &PluginError{Spec: p.raw, Reason: "the catalog lists it as a process plugin, a program of its own: install it with plugin add --process " + e.Name}
	} else if !process && p.process {
		return &PluginError{Spec: p.raw, Reason: "the catalog lists it as a plugin compiled into the program: install it with plugin add " + e.Name}
	}
	chosen, err := chooseVersion(e, p.version, v.host)
	if err != nil {
		return &catalog.RefusedError{Plugin: p.raw, Rule: "catalog version", Reason: err.Error()}
	}
	p.importPath, p.modulePath, p.version = e.ImportPath, e.Module, chosen.Version
	p.listedIn = &catalogEntry{name: e.Name, seq: v.cat.Sequence, sum: chosen.Sum}
	return nil
}

// catalogEntry is what the catalog says of a plugin being installed.
type catalogEntry struct {
	name string
	seq  int64
	sum  string // the h1: hash of the version chosen
}

// chooseVersion picks the version of a catalog plugin for a request: the
// newest allowed for none, "latest" or "upgrade" (which moves off a
// revoked version, even to a lower one), or the version named, if it is
// allowed.
func chooseVersion(e *catalog.Plugin, requested, host string) (catalog.Version, error) {
	switch requested {
	case "", "latest", "upgrade":
		return e.Newest(host)
	}
	return e.Allowed(requested, host)
}

// checkModules checks, once the build list is known and before building,
// every module version the build would use that the catalog speaks for.
// A module the catalog lists (any package of it) must be at a version it
// allows for this host, not replaced, with the go.mod its files carry and
// files whose hash is the catalog's, whatever GOSUMDB, GONOSUMDB,
// GOINSECURE or GOFLAGS let the go command accept; a version the binary
// has already is not checked again (plugin check reports it). Under a
// catalog-only policy, a module new to the program must be vouched for by
// the go.sum of a catalog plugin's module, unless the change adds a plugin
// that the policy admits unlisted. A listed module whose files
// are not the catalog's is removed from the cache.
func (res *resolution) checkModules() error {
	v := res.vendor
	if v == nil {
		return nil
	}
	if err := res.checkProviders(); err != nil {
		return err
	}
	vouched := map[string]string{}
	for path, a := range res.after {
		if a.Main || res.hasModule(path, a) || len(v.cat.ByModule(path)) == 0 {
			continue
		}
		sums, err := v.checkListed(res.dirs.modcache, a, res.spec(path))
		if err != nil {
			return err
		}
		for k, s := range sums {
			vouched[k] = s
		}
	}
	if v.cfg.Policy.Allow != catalog.AllowCatalog || res.admitsUnlisted() {
		return nil
	}
	for path, a := range res.after {
		if !a.Main && a.Replace == nil && !res.hasModule(path, a) && len(v.cat.ByModule(path)) == 0 {
			if err := v.checkVouched(res.dirs.modcache, a, vouched, res.newPlugins()); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkProviders checks what only go list tells, the module that provides
// each plugin's package: a package the catalog lists must come from the
// module it lists (a module nested under that module's path, which the
// catalog never hashed, can provide the same import path), unless it is
// kept as installed (plugin check reports it); and a new plugin under the
// host module's path that another module provides is a plugin like any
// other to the policy.
func (res *resolution) checkProviders() error {
	v := res.vendor
	for _, p := range res.plugins {
		if p.moduleDir != "" || p.listed == nil {
			continue
		}
		kept := !p.isNew && p.installed != nil && p.installed.Module == p.listed.Path
		if e, ok := v.cat.ByImportPath(p.importPath); ok && p.listed.Path != e.Module && !kept {
			return &catalog.RefusedError{Plugin: p.raw, Rule: "catalog module", Reason: fmt.Sprintf("the build would take its package %s from the module %s@%s, not from %s, the module the catalog lists and hashed for it", p.importPath, p.listed.Path, p.listed.Version, e.Module)}
		}
		if p.isNew && !p.listed.Main && v.ours(p.importPath) {
			if err := v.cfg.Policy.Permit(catalog.Unlisted{Spec: p.raw, Module: p.listed.Path}, res.c.AllowUnlisted); err != nil {
				return err
			}
		}
	}
	return nil
}

// admitsUnlisted reports whether the change adds a plugin that the catalog
// does not list and the policy let in (a module under its prefixes, or one
// asked for with --allow-unlisted where the vendor permits it): what such a
// plugin brings in is the vendor's or the user's choice, not the catalog's
// to vouch for.
func (res *resolution) admitsUnlisted() bool {
	for _, p := range res.plugins {
		if p.isNew && p.listedIn == nil && p.listed != nil && !p.listed.Main {
			return true
		}
	}
	return false
}

// hasModule reports whether the executable's last build used the module
// at this version already.
func (res *resolution) hasModule(path string, a gosrc.Module) bool {
	last := res.bin.LastList
	if last == nil {
		last = res.bin.HostList
	}
	h, ok := last[path]
	return ok && h.Version == a.Version && sameReplace(h.Replace, a.Replace)
}

// spec names, for an error, the plugin that brings the module at path:
// the plugin of that module, or the plugins being added.
func (res *resolution) spec(path string) string {
	for _, p := range res.plugins {
		if p.modulePath == path || p.listed != nil && p.listed.Path == path {
			return p.raw
		}
	}
	return strings.Join(res.newPlugins(), ", ")
}

// checkListed checks a module version that the catalog lists, and returns
// the go.sum lines of its own go.sum, which vouch for its dependencies.
func (v *vendor) checkListed(cache string, a gosrc.Module, spec string) (map[string]string, error) {
	refuse := func(rule, reason string) error {
		return &catalog.RefusedError{Plugin: spec, Rule: rule, Reason: reason}
	}
	mv := module.Version{Path: a.Path, Version: a.Version}
	if a.Replace != nil {
		return nil, refuse("catalog version", fmt.Sprintf("the build would replace %s, which the catalog lists, by %s", a.Path, strings.TrimSpace(a.Replace.Path+" "+a.Replace.Version)))
	}
	var want catalog.Version
	var err error
	for _, e := range v.cat.ByModule(a.Path) {
		if want, err = e.Allowed(a.Version, v.host); err == nil {
			break
		}
	}
	if err != nil {
		return nil, refuse("catalog version", fmt.Sprintf("the build would use %s: %v", mv, err))
	}
	if err := modcache.CheckGoMod(cache, mv); err != nil {
		return nil, refuse("catalog hash", discarded(cache, mv, err.Error()))
	}
	sum, err := modcache.Sum(cache, mv)
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", mv, err)
	}
	if sum != want.Sum {
		return nil, refuse("catalog hash", discarded(cache, mv, fmt.Sprintf("%s hashes to %s and the catalog lists %s: it is not the module the vendor listed", mv, sum, want.Sum)))
	}
	return modcache.GoSum(cache, mv)
}

// discarded removes from the module cache everything of a module version
// that failed a check, so that the next try fetches it again, and returns
// the reason it failed, saying so.
func discarded(cache string, mv module.Version, reason string) string {
	modcache.Discard(cache, mv)
	return reason + "; it was removed from the module cache, so the next try fetches it again"
}

// checkVouched refuses, under a catalog-only policy, a module new to the
// program that no catalog plugin's go.sum names, or whose go.mod or files
// are not those it names.
func (v *vendor) checkVouched(cache string, a gosrc.Module, vouched map[string]string, specs []string) error {
	mv := module.Version{Path: a.Path, Version: a.Version}
	refuse := func(reason string) error {
		return &catalog.RefusedError{Plugin: strings.Join(specs, ", "), Rule: string(v.cfg.Policy.Allow), Reason: reason}
	}
	modSum, ok := vouched[mv.Path+" "+mv.Version+"/go.mod"]
	if !ok {
		return refuse(fmt.Sprintf("the build would use %s, which neither the catalog nor the go.sum of a plugin it lists names", mv))
	}
	data, err := modcache.DownloadedGoMod(cache, mv)
	if got, _ := modcache.ModSum(data); err != nil || got != modSum {
		return refuse(discarded(cache, mv, fmt.Sprintf("the go.mod of %s is not the one the go.sum of a catalog plugin names", mv)))
	}
	if !modcache.Has(cache, mv) {
		return nil // only its go.mod is read: nothing of it is built
	}
	sum, err := modcache.Sum(cache, mv)
	want, ok := vouched[mv.Path+" "+mv.Version]
	if !ok {
		return refuse(fmt.Sprintf("the build would use the files of %s, which the go.sum of no catalog plugin names", mv))
	}
	if err != nil || sum != want {
		return refuse(discarded(cache, mv, fmt.Sprintf("the files of %s are not those the go.sum of a catalog plugin names", mv)))
	}
	return nil
}

// Catalog returns the newest catalog of the executable's vendor that this
// machine can verify (fetching a newer one unless GOPROXY is off), and the
// host version its constraints are checked against ("" when unknown, which
// every version fits); nil for a program without a catalog.
func (c *SelfCompile) Catalog(ctx context.Context) (*catalog.Catalog, string, error) {
	v, _, err := c.vendorOf(ctx)
	if err != nil || v == nil {
		return nil, "", apiErr(err)
	}
	return v.cat, v.host, nil
}

// vendorOf loads the catalog of the executable, and its record.
func (c *SelfCompile) vendorOf(ctx context.Context) (*vendor, buildRecord, error) {
	var rec buildRecord
	if err := checkUnprivileged(); err != nil {
		return nil, rec, err
	}
	target, err := c.target()
	if err != nil {
		return nil, rec, err
	}
	bin, err := exe.Open(target)
	if err != nil {
		return nil, rec, &TargetError{Path: target, Err: err}
	}
	defer bin.Close()
	if rec, err = exe.ReadRecord[PluginInfo](bin); err != nil {
		return nil, rec, err
	}
	cache, err := c.cacheRoot()
	if err != nil {
		return nil, rec, err
	}
	v, err := c.loadVendor(ctx, bin, rec, cache)
	return v, rec, err
}

// Check reports the installed plugins of the executable, its process
// plugins included, that its vendor's newest catalog no longer lets users
// run: revoked versions, versions or
// hashes no longer listed or that no longer fit the host, plugins the
// policy does not allow; and a catalog older than the vendor allows. It
// returns no problems for a program without a catalog.
func (c *SelfCompile) Check(ctx context.Context) ([]catalog.Problem, error) {
	v, rec, err := c.vendorOf(ctx)
	if err != nil || v == nil {
		return nil, apiErr(err)
	}
	processes, err := c.processPlugins()
	if err != nil {
		return nil, apiErr(err)
	}
	var out []catalog.Problem
	for _, p := range rec.Plugins {
		if reason := v.problem(p); reason != "" {
			out = append(out, catalog.Problem{Plugin: p.ImportPath, Version: p.Version, Reason: reason})
		}
	}
	for i, p := range processInfos(processes) {
		if reason := v.problem(p); reason != "" {
			name := processes[i].Name
			out = append(out, catalog.Problem{Plugin: p.ImportPath, Version: p.Version,
				Reason: fmt.Sprintf("%s (a process plugin: plugin upgrade --process %s, or plugin remove --process %s)", reason, name, name)})
		}
	}
	if age := time.Since(v.cat.Date); v.cfg.Policy.MaxAge > 0 && age > v.cfg.Policy.MaxAge {
		out = append(out, catalog.Problem{Reason: fmt.Sprintf("the catalog (sequence %d) is %v old, older than the %v its vendor allows: its updates do not reach this machine", v.cat.Sequence, age.Round(time.Hour), v.cfg.Policy.MaxAge)})
	}
	return out, nil
}

// problem says why the catalog no longer lets an installed plugin run, or
// "". A package of the host module is the vendor's own; one under its
// path from another module or a folder is not.
func (v *vendor) problem(p PluginInfo) string {
	if p.Origin == "host" || p.Module == "" && p.Local == "" {
		return ""
	}
	if e, ok := v.cat.ByImportPath(p.ImportPath); ok && p.Local == "" && p.Module != e.Module {
		return fmt.Sprintf("not allowed: its package comes from the module %s, not from %s, the module the catalog lists and hashed for it (plugin add %s installs the catalog's)", p.Module, e.Module, e.Name)
	}
	if p.Local == "" && len(v.cat.ByModule(p.Module)) > 0 {
		var last error
		for _, e := range v.cat.ByModule(p.Module) {
			if reason, revoked := e.RevokedReason(p.Version); revoked {
				return "revoked: " + reason + " (plugin upgrade moves it to an allowed version)"
			}
			allowed, err := e.Allowed(p.Version, v.host)
			if err == nil && (p.Sum == "" || p.Sum == allowed.Sum) {
				return ""
			} else if err == nil {
				err = fmt.Errorf("its hash %s is not the %s the catalog lists", p.Sum, allowed.Sum)
			}
			last = err
		}
		return "no longer allowed: " + last.Error()
	}
	if v.cfg.Policy.UserMayAllowUnlisted {
		return "" // the user may have allowed it
	}
	var re *catalog.RefusedError
	if err := v.cfg.Policy.Permit(catalog.Unlisted{Spec: p.ImportPath, Module: cmp.Or(p.Module, p.ImportPath), Local: p.Local != ""}, false); errors.As(err, &re) {
		return "no longer allowed: " + re.Reason
	}
	return ""
}
