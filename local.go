package selfcompile

// Plugins from local folders: checked, and copied into the workdir with
// only what builds them, so that the binary carries them.

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gosrc"
)

// localDir returns where the copy of a local plugin module goes in the
// workdir.
func (res *resolution) localDir(modPath string) (string, error) {
	esc, err := module.EscapePath(modPath)
	if err != nil {
		return "", err
	}
	return filepath.Join(res.workdir, "plugins", filepath.FromSlash(esc)), nil
}

// fromFolder reports whether p is taken from a local folder this time (not
// from the copy that the binary carries).
func (res *resolution) fromFolder(p pluginSpec) bool {
	return p.moduleDir != "" && !strings.HasPrefix(p.moduleDir, res.workdir)
}

// checkLocal checks the plugins that come from a local folder this time:
// not part of the host module, and still there. It notes their go.mod's
// replace directives, which a plugin's build does not follow.
func (res *resolution) checkLocal() error {
	for i, p := range res.plugins {
		if !res.fromFolder(p) {
			continue
		}
		if p.modulePath == res.bin.Shared.Manifest.MainModule {
			return &PluginError{Spec: p.raw, Reason: "it is part of the host module " + p.modulePath + "; install it by its import path " + p.importPath}
		}
		if other := res.moduleOfOther(i); other != "" {
			return &PluginError{Spec: p.raw, Reason: "its module " + p.modulePath + " is the module of " + other + ", which the folder would replace"}
		}
		if v := res.vendor; v != nil && len(v.cat.ByModule(p.modulePath)) > 0 {
			return &catalog.RefusedError{Plugin: p.raw, Rule: "catalog version", Reason: "its module " + p.modulePath + " is one the catalog lists: install the catalog's version by name"}
		}
		if !fsutil.IsDir(p.moduleDir) {
			return &PluginError{Spec: p.raw, Reason: "it was installed from " + p.moduleDir + ", which no longer exists, and the binary carries no copy of it"}
		}
		res.plugins[i].replaced = replacedModules(filepath.Join(p.moduleDir, "go.mod"))
	}
	return nil
}

// moduleOfOther returns the plugin other than the i-th whose module the
// i-th's folder would replace: one installed by module version, or one
// from another folder of the same module path. Other packages of the
// same folder's module, new or kept, share its copy.
func (res *resolution) moduleOfOther(i int) string {
	p := res.plugins[i]
	for j, q := range res.plugins {
		if j != i && q.modulePath == p.modulePath && (q.moduleDir == "" || res.fromFolder(q) && q.moduleDir != p.moduleDir) {
			return q.raw
		}
	}
	return ""
}

// stageLocal copies into the workdir the module of every plugin that
// comes from a local folder this time, and points go.mod and the plugins
// at the copies: the replace that builds them is then the same relative
// path in every build (the same plugin set gives the same binary), and the
// plugins bundle is made from what was built. Only what builds the
// plugins is copied, as go list listed it (pkgs, see gosrc): their
// packages, the packages of their modules they import, go.mod, go.sum and
// the licence. It returns the files copied, by plugin import path, for the
// plan.
func (res *resolution) stageLocal(pkgs []gosrc.Package) (map[string][]string, error) {
	folders := map[string]string{} // module path -> folder
	for _, p := range res.plugins {
		if res.fromFolder(p) {
			folders[p.modulePath] = p.moduleDir
		}
	}
	if len(folders) == 0 {
		return nil, nil
	}
	files, err := gosrc.Files(pkgs, slices.Collect(maps.Keys(folders))...)
	if errors.Is(err, gosrc.ErrOutside) {
		return nil, &PluginError{Spec: strings.Join(slices.Sorted(maps.Values(folders)), " "), Reason: err.Error() + "; a plugin's files must be inside its module"}
	}
	if err != nil {
		return nil, err
	}
	carried := map[string][]string{}
	err = res.gomod.edit(func(f *modfile.File) error {
		for mod, dir := range folders {
			names, dst, err := res.copyModule(mod, dir, files)
			if err != nil {
				return err
			}
			if err := requireLocal(f, mod, res.relToModule(dst)); err != nil {
				return err
			}
			if m, ok := res.after[mod]; ok { // the build list as built: the copy, not the folder
				m.Replace = &module.Version{Path: res.relToModule(dst)}
				res.after[mod] = m
			}
			for i, p := range res.plugins {
				if p.modulePath == mod {
					res.plugins[i].moduleDir = dst
					carried[p.importPath] = names
				}
			}
		}
		return nil
	})
	return carried, err
}

// copyModule copies the files of module mod under dir, among files, to
// the module's directory in the workdir, and returns their names relative
// to dir and that directory.
func (res *resolution) copyModule(mod, dir string, files []string) (names []string, dst string, err error) {
	if dst, err = res.localDir(mod); err != nil {
		return nil, "", &PluginError{Spec: dir, Reason: err.Error()}
	}
	if err := fsutil.RemoveAll(dst); err != nil { // the copy the binary carried: files deleted from the folder must go
		return nil, "", err
	}
	for _, f := range files {
		rel, err := filepath.Rel(dir, f)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		if err := fsutil.CopyFile(f, filepath.Join(dst, rel), 0o644); err != nil {
			return nil, "", err
		}
		names = append(names, filepath.ToSlash(rel))
	}
	return names, dst, nil
}

// localSum returns the hash of the copy of a local plugin module at dir,
// as go.sum would give it for a module of that name: what a plan compares
// to tell that a folder changed, and what the binary records.
func localSum(mod, dir string) (string, error) {
	return dirhash.HashDir(dir, mod+"@local", dirhash.Hash1)
}

// replacedModules returns the modules that the replace directives of the
// go.mod file at path replace.
func replacedModules(path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range f.Replace {
		out = append(out, r.Old.Path)
	}
	return out
}
