package selfcompile

// The vendor's catalog and policy: the newest verified catalog, plugin
// names resolved through it, what the policy forbids refused before any go
// command runs, a catalog plugin's hash checked before building, and the
// installed plugins checked against the catalog (Check).

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// catalogsDir, in the cache, keeps the newest catalog this machine has
// verified for each vendor: an older one is then refused.
const catalogsDir = "catalogs"

// vendorConfig returns the catalog configuration that applies to the
// executable: the program's own (SelfCompile.Vendor), else the one the
// generator put in its shared bundle; nil for none.
func (c *SelfCompile) vendorConfig(bin *exe.File) (*catalog.Config, error) {
	if c.Vendor != nil {
		return c.Vendor, nil
	}
	raw := bin.Shared.Manifest.Vendor
	if len(raw) == 0 {
		return nil, nil
	}
	cfg := &catalog.Config{}
	if err := json.Unmarshal(raw, cfg); err != nil {
		return nil, fmt.Errorf("%w: the catalog configuration in %s: %v", ErrBundleCorrupt, bin.Path, err)
	}
	return cfg, nil
}

// loadCatalog returns the newest catalog that the keys verify, among the
// one the program embeds, the one this machine verified last, and the one
// at the catalog's location (fetched unless the user's GOPROXY is off).
// A fetched catalog that does not verify, or that is older than the one
// this machine verified last, is refused: ErrBadCatalog. The newest is
// kept in the cache.
func loadCatalog(ctx context.Context, cfg *catalog.Config, cache string, logf func(string, ...any)) (*catalog.Catalog, error) {
	var best *catalog.Catalog
	var bestRaw []byte
	consider := func(raw []byte, where string) error {
		cat, err := openCatalog(cfg, raw)
		if err != nil {
			return fmt.Errorf("%w (the catalog %s)", err, where)
		}
		if best != nil && cat.Sequence == best.Sequence && !bytes.Equal(raw, bestRaw) && !sameCatalog(cat, best) {
			return fmt.Errorf("%w: the catalog %s differs from another of the same sequence number %d", catalog.ErrBadCatalog, where, cat.Sequence)
		}
		if best == nil || cat.Sequence > best.Sequence {
			best, bestRaw = cat, raw
		}
		return nil
	}
	if len(cfg.Embedded) > 0 {
		if err := consider(cfg.Embedded, "the program carries"); err != nil {
			return nil, err
		}
	}
	cached := filepath.Join(cache, catalogsDir, catalogKey(cfg)+".note")
	seen := int64(0)
	if raw, err := os.ReadFile(cached); err == nil {
		if err := consider(raw, "this machine verified last"); err != nil {
			logf("Ignoring %s: %v", cached, err)
		} else if best != nil {
			seen = max(seen, best.Sequence)
		}
	}
	if cfg.URL != "" && (mayFetch(cfg.URL) || best == nil) {
		raw, err := catalog.Fetch(ctx, cfg.Client, cfg.URL)
		if err != nil && best != nil {
			logf("Using the catalog of sequence %d: %v", best.Sequence, err)
		} else if err != nil {
			return nil, fmt.Errorf("%w: %v, and the program carries none", catalog.ErrBadCatalog, err)
		} else if err := checkFetched(cfg, raw, seen, consider); err != nil {
			return nil, err
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: the program has a catalog configuration but no catalog (give the generator --catalog, or a catalog URL)", catalog.ErrBadCatalog)
	}
	if old, err := os.ReadFile(cached); err != nil || !bytes.Equal(old, bestRaw) {
		if err := os.MkdirAll(filepath.Dir(cached), 0o700); err == nil {
			fsutil.WriteAtomic(cached, 0o600, func(w io.Writer) error { _, err := w.Write(bestRaw); return err })
		}
	}
	if age := time.Since(best.Date); cfg.Policy.MaxAge > 0 && age > cfg.Policy.MaxAge {
		logf("The catalog is %v old, older than the %v its vendor allows: its updates do not reach this machine", age.Round(time.Hour), cfg.Policy.MaxAge)
	}
	return best, nil
}

// checkFetched verifies a fetched catalog and refuses one older than the
// newest this machine has seen.
func checkFetched(cfg *catalog.Config, raw []byte, seen int64, consider func([]byte, string) error) error {
	where := "at " + cfg.URL
	cat, err := openCatalog(cfg, raw)
	if err != nil {
		return fmt.Errorf("%w (the catalog %s)", err, where)
	}
	if cat.Sequence < seen {
		return fmt.Errorf("%w: the catalog %s has sequence number %d, older than the %d this machine has verified: a rollback", catalog.ErrBadCatalog, where, cat.Sequence, seen)
	}
	return consider(raw, where)
}

// openCatalog verifies a signed catalog against the configuration.
func openCatalog(cfg *catalog.Config, raw []byte) (*catalog.Catalog, error) {
	cat, err := catalog.Open(raw, cfg.Keys)
	if err != nil {
		return nil, err
	}
	if cfg.Name != "" && cat.Name != cfg.Name {
		return nil, fmt.Errorf("%w: it is the catalog %q, and this program's is %q", catalog.ErrBadCatalog, cat.Name, cfg.Name)
	}
	return cat, nil
}

func sameCatalog(a, b *catalog.Catalog) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// mayFetch reports whether an install may read the catalog's location:
// always a file; an https URL unless the user's GOPROXY is off, the
// user's way of saying there is no network.
func mayFetch(location string) bool {
	if !strings.HasPrefix(location, "https:") {
		return true
	}
	for _, kv := range userNetEnv() {
		if kv == "GOPROXY=off" {
			return false
		}
	}
	return true
}

// catalogKey names a vendor's catalog in the cache: its name and keys.
func catalogKey(cfg *catalog.Config) string {
	h := sha256.Sum256([]byte(cfg.Name + "\n" + strings.Join(cfg.Keys, "\n")))
	return fmt.Sprintf("%x", h[:12])
}

// vendor is the catalog and policy an install applies.
type vendor struct {
	cfg  *catalog.Config
	cat  *catalog.Catalog
	host string // the host's version, "" when unknown
}

// loadVendor loads the executable's catalog, if it has a configuration.
func (in *install) loadVendor() error {
	cfg, err := in.c.vendorConfig(in.bin)
	if err != nil || cfg == nil {
		return err
	}
	cat, err := loadCatalog(in.ctx, cfg, in.cache, in.c.logf)
	if err != nil {
		return err
	}
	in.vendor = &vendor{cfg: cfg, cat: cat, host: hostVersion(in.c, in.bin, in.rec)}
	return nil
}

// hostVersion is the version of the host module, for the catalog's host
// constraints: HostVersion, or what the binary records, or its build
// info's; "" when none is known.
func hostVersion(c *SelfCompile, bin *exe.File, rec buildRecord) string {
	v := cmp.Or(c.HostVersion, rec.HostVersion)
	if m := bin.Build.Main; v == "" && m.Version != "(devel)" && semver.IsValid(m.Version) {
		v = m.Version
	}
	return v
}

// names turns the catalog names in a change set into the import paths
// of the plugins they name.
func (v *vendor) names(cs *changeSet) {
	if v == nil {
		return
	}
	for i, sp := range cs.adds {
		if e, ok := v.cat.ByName(sp.importPath); ok && sp.moduleDir == "" {
			cs.adds[i].importPath, cs.adds[i].modulePath = e.ImportPath, e.Module
		}
	}
	for name, version := range cs.upgrades {
		if e, ok := v.cat.ByName(name); ok {
			delete(cs.upgrades, name)
			cs.upgrades[e.ImportPath] = version
		}
	}
}

// applyVendor resolves, for each plugin the change adds or upgrades, a
// catalog name or a listed import path to the version the catalog allows,
// and refuses what the policy forbids: before any go command runs.
func (in *install) applyVendor() error {
	for i := range in.plugins {
		p := &in.plugins[i]
		if !p.isNew {
			continue
		}
		if in.vendor == nil {
			if p.moduleDir == "" && !strings.Contains(strings.Split(p.importPath, "/")[0], ".") {
				return &PluginError{Spec: p.raw, Reason: "not a module path, and this program has no catalog of plugin names"}
			}
			continue
		}
		if err := in.vendor.resolve(p, in.c.AllowUnlisted); err != nil {
			return err
		}
	}
	return nil
}

// resolve applies the catalog and the policy to a plugin being added or
// upgraded.
func (v *vendor) resolve(p *pluginSpec, allowUnlisted bool) error {
	var e *catalog.Plugin
	if p.moduleDir == "" {
		e, _ = v.cat.ByImportPath(p.importPath)
	}
	if e == nil {
		if p.moduleDir == "" && !strings.Contains(strings.Split(p.importPath, "/")[0], ".") {
			return &PluginError{Spec: p.raw, Reason: "the catalog has no plugin of that name (plugin search lists them)"}
		}
		return v.cfg.Policy.Permit(catalog.Unlisted{Spec: p.raw, Module: p.importPath, Local: p.moduleDir != ""}, allowUnlisted)
	}
	installed := ""
	if p.installed != nil {
		installed = p.installed.Version
	}
	chosen, err := chooseVersion(e, p.version, installed, v.host)
	if err != nil {
		return &catalog.RefusedError{Plugin: p.raw, Rule: "catalog version", Reason: err.Error()}
	}
	p.importPath, p.modulePath, p.version = e.ImportPath, e.Module, chosen.Version
	p.listedIn = &catalogEntry{name: e.Name, sum: chosen.Sum, seq: v.cat.Sequence}
	return nil
}

// catalogEntry is what the catalog says of a plugin being installed.
type catalogEntry struct {
	name, sum string
	seq       int64
}

// chooseVersion picks the version of a catalog plugin for a request: the
// newest allowed for none, "latest" or "upgrade" (which keeps a higher
// installed version that is still allowed, and moves off a revoked one
// even to a lower version), or the version named, if it is allowed.
func chooseVersion(e *catalog.Plugin, requested, installed, host string) (catalog.Version, error) {
	switch requested {
	case "", "latest", "upgrade":
		newest, err := e.Newest(host)
		if err != nil {
			return newest, err
		}
		if cur, err := e.Allowed(installed, host); requested == "upgrade" && err == nil && semver.Compare(installed, newest.Version) > 0 {
			return cur, nil
		}
		return newest, nil
	}
	return e.Allowed(requested, host)
}

// checkListed checks, once go list has resolved the plugins, that each
// catalog plugin being installed is the module version the catalog
// allows, with the hash it lists, hashed here from the module's files,
// whatever GOSUMDB, GONOSUMDB, GOINSECURE or GOFLAGS let the go command
// accept. A module whose hash differs is removed from the cache.
func (in *install) checkListed() error {
	for _, p := range in.plugins {
		if p.listedIn == nil || !p.isNew {
			continue
		}
		refuse := func(reason string) error {
			return &catalog.RefusedError{Plugin: p.raw, Rule: "catalog hash", Reason: reason}
		}
		if p.listed.Path != p.modulePath || p.listed.Version != p.version {
			return refuse(fmt.Sprintf("the build would use %s@%s, and the catalog allows %s@%s", p.listed.Path, p.listed.Version, p.modulePath, p.version))
		}
		sum, err := moduleSum(in.r.modcache, module.Version{Path: p.modulePath, Version: p.version})
		if err != nil {
			return refuse(err.Error())
		}
		if sum != p.listedIn.sum {
			discardModule(in.r.modcache, module.Version{Path: p.modulePath, Version: p.version})
			return refuse(fmt.Sprintf("%s@%s hashes to %s and the catalog lists %s: it is not the module the vendor listed", p.modulePath, p.version, sum, p.listedIn.sum))
		}
	}
	return nil
}

// moduleSum hashes a module version's files in the module cache, as
// go.sum's h1: hash: its zip, or its extracted tree where the cache holds
// no zip (the bundles carry trees).
func moduleSum(modcache string, mv module.Version) (string, error) {
	zip, dir, err := modulePaths(modcache, mv)
	if err != nil {
		return "", err
	}
	if fsutil.Exists(zip) {
		return dirhash.HashZip(zip, dirhash.Hash1)
	}
	return dirhash.HashDir(dir, mv.String(), dirhash.Hash1)
}

func modulePaths(modcache string, mv module.Version) (zip, dir string, err error) {
	esc, err := module.EscapePath(mv.Path)
	if err != nil {
		return "", "", err
	}
	escV, err := module.EscapeVersion(mv.Version)
	if err != nil {
		return "", "", err
	}
	zip = filepath.Join(modcache, "cache", "download", filepath.FromSlash(esc), "@v", escV+".zip")
	return zip, filepath.Join(modcache, filepath.FromSlash(esc)+"@"+escV), nil
}

// discardModule removes a module version's zip and tree from the cache.
func discardModule(modcache string, mv module.Version) {
	if zip, dir, err := modulePaths(modcache, mv); err == nil {
		os.Remove(zip)
		fsutil.RemoveAll(dir)
	}
}

// checkSums refuses a plugin whose hash is not the one the change
// expects (a declared set's, as plugin sync enforces it), named by the
// spec as given or by its import path.
func (in *install) checkSums(want map[string]string) error {
	for i, p := range in.rec.Plugins {
		w, ok := want[in.plugins[i].raw]
		if !ok {
			w, ok = want[p.ImportPath]
		}
		if ok && w != p.Sum {
			return &PluginError{Spec: in.plugins[i].raw, Reason: fmt.Sprintf("its hash is %s, and the change expects %s", cmp.Or(p.Sum, "(none)"), w)}
		}
	}
	return nil
}

// Catalog returns the newest catalog of the executable's vendor that this
// machine can verify (fetching a newer one unless GOPROXY is off), or nil
// for a program without one.
func (c *SelfCompile) Catalog(ctx context.Context) (*catalog.Catalog, error) {
	cat, _, err := c.openCatalog(ctx)
	return cat, prefixed(err)
}

func (c *SelfCompile) openCatalog(ctx context.Context) (*catalog.Catalog, *vendor, error) {
	if err := checkUnprivileged(); err != nil {
		return nil, nil, err
	}
	target, err := c.target()
	if err != nil {
		return nil, nil, err
	}
	bin, err := exe.Open(target)
	if err != nil {
		return nil, nil, &TargetError{Path: target, Err: err}
	}
	defer bin.Close()
	cfg, err := c.vendorConfig(bin)
	if err != nil || cfg == nil {
		return nil, nil, err
	}
	cache, err := c.cacheRoot()
	if err != nil {
		return nil, nil, err
	}
	cat, err := loadCatalog(ctx, cfg, cache, c.logf)
	if err != nil {
		return nil, nil, err
	}
	rec, err := exe.ReadRecord[PluginInfo](bin)
	if err != nil {
		return nil, nil, err
	}
	return cat, &vendor{cfg: cfg, cat: cat, host: hostVersion(c, bin, rec)}, nil
}

// Check reports the installed plugins of the executable that its vendor's
// newest catalog no longer lets users run: revoked versions, versions no
// longer listed or that no longer fit the host, plugins the policy does
// not allow; and a catalog older than the vendor allows. It returns no
// problems for a program without a catalog.
func (c *SelfCompile) Check(ctx context.Context) ([]catalog.Problem, error) {
	cat, v, err := c.openCatalog(ctx)
	if err != nil || cat == nil {
		return nil, prefixed(err)
	}
	plugins, err := c.Plugins()
	if err != nil {
		return nil, err
	}
	var out []catalog.Problem
	for _, p := range plugins {
		if reason := v.problem(p); reason != "" {
			out = append(out, catalog.Problem{Plugin: p.ImportPath, Version: p.Version, Reason: reason})
		}
	}
	if age := time.Since(cat.Date); v.cfg.Policy.MaxAge > 0 && age > v.cfg.Policy.MaxAge {
		out = append(out, catalog.Problem{Reason: fmt.Sprintf("the catalog (sequence %d) is %v old, older than the %v its vendor allows: its updates do not reach this machine", cat.Sequence, age.Round(time.Hour), v.cfg.Policy.MaxAge)})
	}
	return out, nil
}

// problem says why the catalog no longer lets an installed plugin run, or
// "".
func (v *vendor) problem(p PluginInfo) string {
	if p.Origin == "host" {
		return ""
	}
	e, listed := v.cat.ByImportPath(p.ImportPath)
	switch {
	case listed && p.Local == "":
		if reason, revoked := e.RevokedReason(p.Version); revoked {
			return "revoked: " + reason + " (plugin upgrade moves it to an allowed version)"
		}
		if _, err := e.Allowed(p.Version, v.host); err != nil {
			return "no longer allowed: " + err.Error()
		}
		return ""
	case v.cfg.Policy.UserMayAllowUnlisted:
		return "" // the user may have allowed it
	}
	err := v.cfg.Policy.Permit(catalog.Unlisted{Spec: p.ImportPath, Module: cmp.Or(p.Module, p.ImportPath), Local: p.Local != ""}, false)
	if err != nil {
		var re *catalog.RefusedError
		if errors.As(err, &re) {
			return "no longer allowed: " + re.Reason
		}
		return err.Error()
	}
	return ""
}

// Plugins returns the plugins of the executable on disk (Target), as its
// record says: what the next start runs, which the running process's
// Installed may not be.
func (c *SelfCompile) Plugins() ([]PluginInfo, error) {
	target, err := c.target()
	if err != nil {
		return nil, prefixed(err)
	}
	bin, err := exe.Open(target)
	if err != nil {
		return nil, prefixed(&TargetError{Path: target, Err: err})
	}
	defer bin.Close()
	rec, err := exe.ReadRecord[PluginInfo](bin)
	return rec.Plugins, prefixed(err)
}
