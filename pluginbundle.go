package selfcompile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/modcache"
	"github.com/shazow/go-selfcompile/internal/stub"
)

// The plugins bundle makes a rebuilt binary self-contained: the stub
// embeds it next to the bundle package, so that an install never
// recompresses the toolchain. It carries the source of every plugin
// installed from a local folder, what the module cache needs beyond the
// shared bundle for the new module graph (the modules only plugins need,
// and the go.mod files of every version the graph names), go.sum, the
// build list and the plugin record. Any later rebuild restores it, so it
// works offline, after a plugin's folder is gone, and on another machine
// that got a copy of the binary.

// localDir returns where the copy of a local plugin module goes in the
// workdir.
func (in *install) localDir(modPath string) (string, error) {
	esc, err := module.EscapePath(modPath)
	if err != nil {
		return "", err
	}
	return filepath.Join(in.workdir, "plugins", filepath.FromSlash(esc)), nil
}

// hostSumFile and hostModFile, in the workdir, are the host's own go.sum
// and go.mod, as the shared bundle has them: the plugins bundle carries
// the go.mod files of the versions that the new go.sum names and the
// host's does not, and the requirements the host's go.mod lacks.
const (
	hostSumFile = "host.sum"
	hostModFile = "host.mod"
)

// readIfExists returns the content of a file, or "" if it cannot be read.
func readIfExists(name string) string {
	data, _ := os.ReadFile(name)
	return string(data)
}

// restorePluginBundle lays out the executable's plugins bundle: local
// plugin sources into the workdir, modules into the host's module cache,
// and its go.sum lines after the host's own. It returns the restored local
// plugin modules, by module path.
func (in *install) restorePluginBundle() (map[string]string, error) {
	local := map[string]string{}
	for name, file := range map[string]string{hostSumFile: "go.sum", hostModFile: "go.mod"} {
		if err := os.WriteFile(filepath.Join(in.workdir, name), []byte(readIfExists(filepath.Join(in.r.module, file))), 0o600); err != nil {
			return nil, err
		}
	}
	if in.bin.plugins == nil {
		return local, nil
	}
	s := in.bin.plugins
	br, err := bundle.Open(io.NewSectionReader(s, 0, s.Size()))
	if err != nil {
		return nil, err
	}
	defer br.Close()
	for _, p := range br.Manifest.Parts {
		if err := in.restorePluginPart(br, p, local); err != nil {
			return nil, err
		}
	}
	if err := in.restoreRequires(br.Manifest.Requires); err != nil {
		return nil, err
	}
	return local, br.End()
}

// restoreRequires adds to the restored go.mod the requirements that the
// last install's go.mod had beyond the host's.
func (in *install) restoreRequires(reqs []string) error {
	if len(reqs) == 0 {
		return nil
	}
	gomod := filepath.Join(in.r.module, "go.mod")
	f, err := readModFile(gomod)
	if err != nil {
		return err
	}
	for _, r := range reqs {
		path, version, _ := strings.Cut(r, " ")
		if err := requireAtLeast(f, path, version); err != nil {
			return &bundle.CorruptError{Reason: fmt.Sprintf("the plugins bundle's requirement %q: %v", r, err)}
		}
	}
	return writeModFile(gomod, f)
}

// addedRequires returns the requirements of the install's go.mod that the
// host's go.mod does not have at that version, but for the plugins' own
// modules, which every install requires again.
func (in *install) addedRequires() ([]string, error) {
	host, err := modfile.Parse(hostModFile, []byte(readIfExists(filepath.Join(in.workdir, hostModFile))), nil)
	if err != nil {
		return nil, err
	}
	now, err := readModFile(filepath.Join(in.r.module, "go.mod"))
	if err != nil {
		return nil, err
	}
	had := map[string]string{}
	for _, r := range host.Require {
		had[r.Mod.Path] = r.Mod.Version
	}
	var out []string
	for _, r := range now.Require {
		if had[r.Mod.Path] == r.Mod.Version || slices.ContainsFunc(in.rec.Plugins, func(p PluginInfo) bool { return p.Module == r.Mod.Path }) {
			continue
		}
		out = append(out, r.Mod.Path+" "+r.Mod.Version)
	}
	slices.Sort(out)
	return out, nil
}

func (in *install) restorePluginPart(br *bundle.Reader, p bundle.Part, local map[string]string) error {
	switch p.Name {
	case bundle.PartLocal:
		dir := filepath.Join(in.workdir, "plugins")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := br.Restore(p.Name, dir, nil); err != nil {
			return err
		}
		for _, mod := range br.Manifest.LocalModules {
			d, err := in.localDir(mod)
			if err != nil {
				return &bundle.CorruptError{Reason: fmt.Sprintf("local module %q: %v", mod, err)}
			}
			local[mod] = d
		}
		return nil
	case bundle.PartModules:
		m := marker(in.r.modcache, p)
		if exists(m) {
			return br.Skip(p.Name)
		}
		return restoreMerged(br, p.Name, in.r.modcache, m, nil)
	case bundle.PartSums:
		dir, err := os.MkdirTemp(in.workdir, "sums-")
		if err != nil {
			return err
		}
		if err := br.Restore(p.Name, dir, nil); err != nil {
			return err
		}
		sums, err := os.ReadFile(filepath.Join(dir, "go.sum"))
		if err != nil {
			return &bundle.CorruptError{Reason: "the plugins bundle has no go.sum"}
		}
		return appendLines(filepath.Join(in.r.module, "go.sum"), string(sums))
	}
	return &bundle.CorruptError{Reason: fmt.Sprintf("unknown part %q in the plugins bundle", p.Name)}
}

// checkLocal checks the plugins that come from a local folder this time:
// not part of the host module, and still there. It notes their go.mod's
// replace directives, which a plugin's build does not follow.
func (in *install) checkLocal() error {
	for i, p := range in.plugins {
		if p.moduleDir == "" || strings.HasPrefix(p.moduleDir, in.workdir) {
			continue
		}
		if p.modulePath == in.bin.sharedM.MainModule {
			return &PluginError{Spec: p.raw, Reason: "it is part of the host module " + p.modulePath + "; install it by its import path " + p.importPath}
		}
		if !isDir(p.moduleDir) {
			return &PluginError{Spec: p.raw, Reason: "it was installed from " + p.moduleDir + ", which no longer exists, and the binary carries no copy of it"}
		}
		in.plugins[i].replaced = replacedModules(p.moduleDir)
	}
	return nil
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
func (in *install) stageLocal(pkgs []gosrc.Package) (map[string][]string, error) {
	folders := map[string]string{} // module path -> folder
	for _, p := range in.plugins {
		if p.moduleDir != "" && !strings.HasPrefix(p.moduleDir, in.workdir) {
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
	gomod := filepath.Join(in.r.module, "go.mod")
	f, err := readModFile(gomod)
	if err != nil {
		return nil, err
	}
	carried := map[string][]string{}
	for mod, dir := range folders {
		dst, err := in.localDir(mod)
		if err != nil {
			return nil, &PluginError{Spec: dir, Reason: err.Error()}
		}
		if err := removeTree(dst); err != nil { // the copy the binary carried: files deleted from the folder must go
			return nil, err
		}
		names, err := copyModule(dir, dst, files)
		if err != nil {
			return nil, err
		}
		if err := requireLocal(f, mod, in.relToModule(dst)); err != nil {
			return nil, err
		}
		for i, p := range in.plugins {
			if p.modulePath == mod {
				in.plugins[i].moduleDir = dst
				carried[p.importPath] = names
			}
		}
	}
	return carried, writeModFile(gomod, f)
}

// copyModule copies the files under dir among files to dst, and returns
// their names relative to dir.
func copyModule(dir, dst string, files []string) ([]string, error) {
	var names []string
	for _, f := range files {
		rel, err := filepath.Rel(dir, f)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		if err := fsutil.CopyFile(f, filepath.Join(dst, rel), 0o644); err != nil {
			return nil, err
		}
		names = append(names, filepath.ToSlash(rel))
	}
	return names, nil
}

// replacedModules returns the modules that the replace directives of the
// go.mod in dir replace.
func replacedModules(dir string) []string {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
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

// appendLines adds to the file the lines of text it lacks.
func appendLines(name, text string) error {
	data, err := os.ReadFile(name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	have := map[string]bool{}
	for _, l := range strings.Split(string(data), "\n") {
		have[l] = true
	}
	var b strings.Builder
	b.Write(data)
	if len(data) > 0 && !strings.HasSuffix(string(data), "\n") {
		b.WriteString("\n")
	}
	for _, l := range strings.Split(text, "\n") {
		if l != "" && !have[l] {
			b.WriteString(l + "\n")
			have[l] = true
		}
	}
	return os.WriteFile(name, []byte(b.String()), 0o644)
}

// writePluginBundle writes the plugins bundle of the new binary into its
// main package: the sources of the local plugins, what the module cache
// needs beyond the shared bundle, go.sum, the build list and the record.
func (in *install) writePluginBundle() error {
	sm := in.bin.sharedM
	m := &bundle.Manifest{Kind: bundle.Plugins, GoVersion: in.bin.toolchainM.GoVersion, MainModule: sm.MainModule, MainPackage: sm.MainPackage, MainDir: sm.MainDir}
	m.Record = []byte(in.rec.json())
	m.BuildList = buildListLines(in.after)
	var err error
	if m.Requires, err = in.addedRequires(); err != nil {
		return err
	}
	local, err := in.localFiles(m)
	if err != nil {
		return err
	}
	mods, err := in.pluginModules()
	if err != nil {
		return err
	}
	sums, err := in.sortedSums()
	if err != nil {
		return err
	}
	parts := []bundle.PartFiles{
		{Name: bundle.PartLocal, Files: local},
		{Name: bundle.PartModules, Files: mods},
		{Name: bundle.PartSums, Files: []bundle.File{{Name: "go.sum", Src: sums}}},
	}
	out := filepath.Join(in.mainDir(), stub.PluginsBundle)
	failpoint(in.ctx, "plugins-bundle")
	return fsutil.WriteAtomic(out, 0o644, func(w io.Writer) error { return bundle.Write(w, m, parts, bundle.LevelDefault) })
}

// localFiles lists the copies of the local plugin modules, named by their
// escaped module path, and records those modules in m.
func (in *install) localFiles(m *bundle.Manifest) ([]bundle.File, error) {
	var files []bundle.File
	for _, p := range in.plugins {
		if p.moduleDir == "" || slices.Contains(m.LocalModules, p.modulePath) {
			continue
		}
		esc, err := module.EscapePath(p.modulePath)
		if err != nil {
			return nil, err
		}
		err = filepath.WalkDir(p.moduleDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, _ := filepath.Rel(p.moduleDir, path)
			files = append(files, bundle.File{Name: esc + "/" + filepath.ToSlash(rel), Src: path})
			return nil
		})
		if err != nil {
			return nil, err
		}
		m.LocalModules = append(m.LocalModules, p.modulePath)
	}
	sortFiles(files)
	return files, nil
}

// pluginModules lists what the module cache must hold for the new build
// beyond what the shared bundle carries: the source of every module of
// the build list at a version the host does not have, and the go.mod (and
// .info) of every module version the new go.sum names and the host's does
// not, which is what the go command read to load the new module graph.
func (in *install) pluginModules() ([]bundle.File, error) {
	host, _ := parseModList([]byte(strings.Join(in.bin.sharedM.BuildList, "\n")))
	var files []bundle.File
	for path, a := range in.after {
		if h, ok := host[path]; ok && h.Version == a.Version {
			continue
		}
		mv, ok := a.cached()
		if !ok {
			continue
		}
		meta, err := modcache.Meta(in.r.modcache, mv, ".info", ".mod", ".ziphash")
		if err != nil {
			return nil, err
		}
		tree, err := modcache.Tree(in.r.modcache, mv)
		if err != nil {
			return nil, err
		}
		files = append(append(files, meta...), tree...)
	}
	carried := map[module.Version]bool{}
	for _, mv := range goModSums(readIfExists(filepath.Join(in.workdir, hostSumFile))) {
		carried[mv] = true
	}
	for _, mv := range goModSums(readIfExists(filepath.Join(in.r.module, "go.sum"))) {
		if carried[mv] {
			continue
		}
		meta, err := modcache.Meta(in.r.modcache, mv, ".info", ".mod")
		if err != nil {
			return nil, err
		}
		files = append(files, meta...)
	}
	return dedupFiles(files), nil
}

// goModSums returns the module versions whose go.mod a go.sum names.
func goModSums(sums string) []module.Version {
	var out []module.Version
	for _, line := range strings.Split(sums, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasSuffix(f[1], "/go.mod") {
			out = append(out, module.Version{Path: f[0], Version: strings.TrimSuffix(f[1], "/go.mod")})
		}
	}
	return out
}

// sortedSums writes go.sum with its lines sorted and returns its path: the
// go command keeps the order of lines it did not add, and the same plugin
// set must give the same bundle.
func (in *install) sortedSums() (string, error) {
	sums, err := os.ReadFile(filepath.Join(in.r.module, "go.sum"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	lines := slices.Compact(slices.Sorted(slices.Values(strings.Split(strings.TrimSpace(string(sums)), "\n"))))
	out := filepath.Join(in.workdir, "go.sum.sorted")
	return out, os.WriteFile(out, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// buildListLines returns a build list as go list -m all prints it,
// sorted, the main module first.
func buildListLines(mods map[string]listedModule) []string {
	var main string
	var lines []string
	for _, m := range mods {
		switch {
		case m.Main:
			main = m.Path
		case m.Replace == nil:
			lines = append(lines, m.Path+" "+m.Version)
		default:
			lines = append(lines, strings.TrimSpace(m.Path+" "+m.Version+" => "+m.Replace.Path+" "+m.Replace.Version))
		}
	}
	slices.Sort(lines)
	return append([]string{main}, lines...)
}

// cached returns the module version whose files the module cache holds for
// m: m itself, or what it is replaced by. A module replaced by a
// directory, and the main module, have none.
func (m listedModule) cached() (module.Version, bool) {
	switch {
	case m.Main:
		return module.Version{}, false
	case m.Replace == nil:
		return module.Version{Path: m.Path, Version: m.Version}, true
	case m.Replace.Version != "":
		return module.Version{Path: m.Replace.Path, Version: m.Replace.Version}, true
	}
	return module.Version{}, false
}

func sortFiles(files []bundle.File) {
	slices.SortFunc(files, func(a, b bundle.File) int { return strings.Compare(a.Name, b.Name) })
}

// dedupFiles sorts files by name and drops repeated names.
func dedupFiles(files []bundle.File) []bundle.File {
	sortFiles(files)
	return slices.CompactFunc(files, func(a, b bundle.File) bool { return a.Name == b.Name })
}
