package selfcompile

// Plugins that survive an upgrade of the program: the cache remembers the
// plugin set that the last install, removal or rollback left at each
// executable path, so that when a package manager or an installer puts
// another build of the program there, without them, Missing names them
// and PlanRestore gives the change that installs them again.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/exe"
	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// lastInstalled is what the cache remembers of the executable at a path
// after the last change to its plugins.
type lastInstalled struct {
	Path    string       `json:"path"`
	File    string       `json:"file"`              // the size and time of the binary the change left (fileStamp)
	Version string       `json:"version,omitempty"` // the program's version, "" when unknown
	Plugins []PluginInfo `json:"plugins"`
}

// installedFile is where the cache remembers the plugins of the
// executable at target.
func installedFile(cache, target string) string {
	h := sha256.Sum256([]byte(target))
	return filepath.Join(cache, installedDir, hex.EncodeToString(h[:12])+".json")
}

// remember records the plugin set of the executable at target, as a
// change just left it. It is best effort: it warns when it cannot.
func (c *SelfCompile) remember(target string) {
	cache, err := c.cacheRoot()
	if err == nil {
		err = writeInstalled(cache, target, c.HostVersion)
	}
	if err != nil {
		c.logf("Warning: the plugins of %s are not remembered, so an upgrade of the program that drops them will not be noticed: %v", target, err)
	}
}

func writeInstalled(cache, target, hostVer string) error {
	bin, err := exe.OpenKnown(target, knownStore(cache))
	if err != nil {
		return err
	}
	defer bin.Close()
	rec, err := exe.ReadRecord[PluginInfo](bin)
	if err != nil {
		return err
	}
	stamp, err := fileStamp(target)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(lastInstalled{
		Path: target, File: stamp, Plugins: rec.Plugins,
		Version: hostVersion(&SelfCompile{HostVersion: hostVer}, bin, rec),
	}, "", "\t")
	if err != nil {
		return err
	}
	file := installedFile(cache, target)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	return fsutil.WriteAtomic(file, 0o600, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// fileStamp tells the file at path from another put there: its size and
// modification time, which a package manager's or an installer's new file
// does not share with the one an install wrote. It reads no content: an
// install calls it on its hot path, and plugin list on every run.
func fileStamp(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%d@%d", fi.Size(), fi.ModTime().UnixNano()), nil
}

// Missing returns the plugins that were installed in the executable
// (Target) and that the binary there now lacks, because another build of
// the program without them replaced it at the same path, as a package
// manager's upgrade does. It returns none for a binary that was never
// changed here, or that the last install, removal or rollback left.
// PlanRestore gives the change that installs them again.
func (c *SelfCompile) Missing() ([]PluginInfo, error) {
	last, _, err := c.missing()
	return last.Plugins, apiErr(err)
}

// missing returns the plugins that are missing, with what the cache
// remembers of the executable in the rest of last, and the version of the
// program now there.
func (c *SelfCompile) missing() (last lastInstalled, host string, err error) {
	cache, err := c.cacheRoot()
	if err != nil {
		return last, "", err
	}
	target, err := c.target()
	if err != nil {
		return last, "", err
	}
	data, err := os.ReadFile(installedFile(cache, target))
	if os.IsNotExist(err) {
		return last, "", nil
	}
	if err != nil || json.Unmarshal(data, &last) != nil || last.Path != target {
		return lastInstalled{}, "", err // unreadable: nothing to say
	}
	if stamp, err := fileStamp(target); err != nil || stamp == last.File {
		return lastInstalled{}, "", nil // the binary the last change left: nothing is missing
	}
	bin, err := exe.OpenKnown(target, knownStore(cache))
	if err != nil {
		return lastInstalled{}, "", &TargetError{Path: target, Err: err}
	}
	defer bin.Close()
	rec, err := exe.ReadRecord[PluginInfo](bin)
	if err != nil {
		return lastInstalled{}, "", err
	}
	last.Plugins = lacking(last.Plugins, rec.Plugins)
	return last, hostVersion(c, bin, rec), nil
}

// lacking returns the plugins of want whose import path none of have has.
func lacking(want, have []PluginInfo) []PluginInfo {
	has := map[string]bool{}
	for _, p := range have {
		has[p.ImportPath] = true
	}
	var out []PluginInfo
	for _, p := range want {
		if !has[p.ImportPath] {
			out = append(out, p)
		}
	}
	return out
}

// Restore is how the plugins that an upgrade of the program dropped go
// back in: what PlanRestore returns.
type Restore struct {
	// Missing are the plugins the binary lacks, as they were installed.
	Missing []PluginInfo `json:"missing"`
	// From is the version of the program they were installed in, and To
	// the version now there ("" when unknown).
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Change installs, in one Apply, the missing plugins that fit the
	// program now: those chosen by name in the vendor's catalog at the
	// newest version the catalog allows for this version of the program,
	// the others as they were (a module at its version and hash, a local
	// folder read again from the folder). It is empty when none fits.
	Change Change `json:"change"`
	// Unfit are the missing plugins that Change leaves out, with why: the
	// catalog no longer lists them or allows them for this version of the
	// program, or their folder is gone.
	Unfit []catalog.Problem `json:"unfit,omitempty"`
}

// PlanRestore says how to install again the plugins that Missing
// returns, checking the vendor's catalog (fetched as for an install) for
// the version of the program now at Target; Apply(ctx, r.Change) installs
// them. It returns a Restore with no Missing when nothing is missing.
func (c *SelfCompile) PlanRestore(ctx context.Context) (*Restore, error) {
	last, host, err := c.missing()
	if err != nil {
		return nil, apiErr(err)
	}
	r := &Restore{Missing: last.Plugins, From: last.Version, To: host}
	if len(r.Missing) == 0 {
		return r, nil
	}
	v, _, err := c.vendorOf(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	var cat *catalog.Catalog
	if v != nil {
		cat, host = v.cat, v.host
	}
	r.Change, r.Unfit = restoreChange(r.Missing, cat, host)
	return r, nil
}

// restoreChange decides, for the missing plugins, what goes back into a
// program of version host whose vendor's catalog is cat (nil for none):
// the change that adds those that fit, and the others, with why.
func restoreChange(missing []PluginInfo, cat *catalog.Catalog, host string) (Change, []catalog.Problem) {
	var ch Change
	var unfit []catalog.Problem
	refuse := func(p PluginInfo, format string, args ...any) {
		unfit = append(unfit, catalog.Problem{Plugin: p.ImportPath, Version: p.Version, Reason: fmt.Sprintf(format, args...)})
	}
	for _, p := range missing {
		switch {
		case p.Origin == "catalog" && p.Name != "" && cat != nil:
			e, ok := cat.ByName(p.Name)
			if !ok {
				refuse(p, "the vendor's catalog no longer lists %s", p.Name)
			} else if _, err := e.Newest(host); err != nil {
				refuse(p, "%v", err)
			} else {
				ch.Add = append(ch.Add, p.Name) // re-resolved for this version
			}
		case p.Local != "":
			if !fsutil.IsDir(p.Local) {
				refuse(p, "its folder %s is gone: add it again from where it is now", p.Local)
			} else {
				ch.Add = append(ch.Add, p.Local)
			}
		case p.Origin == "host" || p.Version == "":
			ch.Add = append(ch.Add, p.ImportPath)
		default:
			if e, ok := catalogEntryOf(cat, p.ImportPath); ok {
				if _, err := e.Allowed(p.Version, host); err != nil {
					refuse(p, "%v", err)
					continue
				}
			}
			ch.Add = append(ch.Add, p.String())
			if p.Sum != "" {
				if ch.Sums == nil {
					ch.Sums = map[string]string{}
				}
				ch.Sums[p.ImportPath] = p.Sum
			}
		}
	}
	return ch, unfit
}

// catalogEntryOf returns the plugin of cat (nil for none) whose package
// is path.
func catalogEntryOf(cat *catalog.Catalog, path string) (*catalog.Plugin, bool) {
	if cat == nil {
		return nil, false
	}
	return cat.ByImportPath(path)
}
