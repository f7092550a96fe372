package selfcompile

// The plugins bundle makes a rebuilt binary self-contained: the stub
// embeds it next to the bundle package, so that an install never
// recompresses the toolchain. It carries the source of every plugin
// installed from a local folder, what the module cache needs beyond the
// shared bundle for the new module graph (the modules only plugins need,
// and the go.mod files of every version the graph names), go.sum, the
// build list and the plugin record. Resolve restores it, so any later
// rebuild works offline, after a plugin's folder is gone, and on another
// machine that got a copy of the binary; build writes the new binary's.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/cachetree"
	"github.com/shazow/go-selfcompile/internal/failpoint"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/modcache"
	"github.com/shazow/go-selfcompile/internal/stub"
)

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
func (res *resolution) restorePluginBundle() (map[string]string, error) {
	local := map[string]string{}
	for name, file := range map[string]string{hostSumFile: "go.sum", hostModFile: "go.mod"} {
		if err := os.WriteFile(filepath.Join(res.workdir, name), []byte(readIfExists(filepath.Join(res.dirs.module, file))), 0o600); err != nil {
			return nil, err
		}
	}
	if res.bin.Plugins == nil {
		return local, nil
	}
	br, err := bundle.Open(res.bin.Plugins.Reader())
	if err != nil {
		return nil, err
	}
	defer br.Close()
	var mods pluginModules
	defer mods.close()
	for _, p := range br.Manifest.Parts {
		if err := res.restorePluginPart(br, p, local, &mods); err != nil {
			return nil, err
		}
	}
	if err := mods.merge(); err != nil {
		return nil, err
	}
	if err := res.restoreRequires(br.Manifest.Requires); err != nil {
		return nil, err
	}
	return local, br.End()
}

// pluginModules is the modules part of a plugins bundle, staged until the
// go.sum that comes after it in the bundle is read: what it carries must
// match that go.sum before it enters the module cache that other installs
// share.
type pluginModules struct {
	staged *cachetree.Staged // nil when the part is merged already, or absent
	marker string
	sums   []byte
}

// merge checks the staged modules against the bundle's go.sum and merges
// them into the module cache.
func (m *pluginModules) merge() error {
	if m.staged == nil {
		return nil
	}
	if err := checkCarried(m.staged.Dir, m.sums, "plugins"); err != nil {
		return err
	}
	return m.staged.Merge(m.marker)
}

func (m *pluginModules) close() {
	if m.staged != nil {
		m.staged.Close()
	}
}

// restoreRequires adds to the restored go.mod the requirements that the
// last install's go.mod had beyond the host's.
func (res *resolution) restoreRequires(reqs []string) error {
	if len(reqs) == 0 {
		return nil
	}
	return res.gomod.edit(func(f *modfile.File) error {
		for _, r := range reqs {
			path, version, _ := strings.Cut(r, " ")
			if err := requireAtLeast(f, path, version); err != nil {
				return &bundle.CorruptError{Reason: fmt.Sprintf("the plugins bundle's requirement %q: %v", r, err)}
			}
		}
		return nil
	})
}

// restorePluginPart restores the part p of the plugins bundle: the local
// plugins' copies into the workdir (their directories noted in local),
// the modules staged for the module cache (in mods), or the go.sum lines,
// appended to the host's go.sum.
func (res *resolution) restorePluginPart(br *bundle.Reader, p bundle.Part, local map[string]string, mods *pluginModules) error {
	switch p.Name {
	case bundle.PartLocal:
		dir := filepath.Join(res.workdir, "plugins")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := br.Restore(p.Name, dir, nil); err != nil {
			return err
		}
		for _, mod := range br.Manifest.LocalModules {
			d, err := res.localDir(mod)
			if err != nil {
				return &bundle.CorruptError{Reason: fmt.Sprintf("local module %q: %v", mod, err)}
			}
			local[mod] = d
		}
		return nil
	case bundle.PartModules:
		mods.marker = cachetree.Marker(res.dirs.modcache, p)
		if fsutil.Exists(mods.marker) || mods.staged != nil {
			return br.Skip(p.Name)
		}
		var err error
		mods.staged, err = cachetree.Stage(br, p.Name, res.dirs.modcache, nil)
		return err
	case bundle.PartSums:
		dir, err := os.MkdirTemp(res.workdir, "sums-")
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
		mods.sums = sums
		return appendLines(filepath.Join(res.dirs.module, "go.sum"), string(sums))
	}
	return &bundle.CorruptError{Reason: fmt.Sprintf("unknown part %q in the plugins bundle", p.Name)}
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
func (res *resolution) writePluginBundle(ctx context.Context) error {
	sm := res.bin.Shared.Manifest
	m := &bundle.Manifest{Kind: bundle.Plugins, GoVersion: res.bin.Toolchain.Manifest.GoVersion, MainModule: sm.MainModule, MainPackage: sm.MainPackage, MainDir: sm.MainDir}
	m.Record = []byte(recordJSON(res.rec))
	m.BuildList = res.after.Lines()
	var err error
	if m.Requires, err = res.addedRequires(); err != nil {
		return err
	}
	local, err := res.localFiles(m)
	if err != nil {
		return err
	}
	mods, err := res.pluginModules()
	if err != nil {
		return err
	}
	sums, err := res.sortedSums()
	if err != nil {
		return err
	}
	parts := []bundle.PartFiles{
		{Name: bundle.PartLocal, Files: local},
		{Name: bundle.PartModules, Files: mods},
		{Name: bundle.PartSums, Files: []bundle.File{{Name: "go.sum", Src: sums}}},
	}
	out := filepath.Join(res.mainDir(), stub.PluginsBundle)
	failpoint.Hit(ctx, "plugins-bundle")
	return fsutil.WriteAtomic(out, 0o644, func(w io.Writer) error { return bundle.Write(w, m, parts, bundle.LevelDefault) })
}

// addedRequires returns the requirements of the install's go.mod that the
// host's go.mod does not have at that version, but for the plugins' own
// modules, which every install requires again.
func (res *resolution) addedRequires() ([]string, error) {
	host, err := modfile.Parse(hostModFile, []byte(readIfExists(filepath.Join(res.workdir, hostModFile))), nil)
	if err != nil {
		return nil, err
	}
	now, err := res.gomod.read()
	if err != nil {
		return nil, err
	}
	had := map[string]string{}
	for _, r := range host.Require {
		had[r.Mod.Path] = r.Mod.Version
	}
	var out []string
	for _, r := range now.Require {
		if had[r.Mod.Path] == r.Mod.Version || slices.ContainsFunc(res.rec.Plugins, func(p PluginInfo) bool { return p.Module == r.Mod.Path }) {
			continue
		}
		out = append(out, r.Mod.Path+" "+r.Mod.Version)
	}
	slices.Sort(out)
	return out, nil
}

// localFiles lists the copies of the local plugin modules, named by their
// escaped module path, and records those modules in m.
func (res *resolution) localFiles(m *bundle.Manifest) ([]bundle.File, error) {
	var files []bundle.File
	for _, p := range res.plugins {
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
func (res *resolution) pluginModules() ([]bundle.File, error) {
	var files []bundle.File
	for path, a := range res.after {
		if h, ok := res.bin.HostList[path]; ok && h.Version == a.Version {
			continue
		}
		mv, ok := a.Cached()
		if !ok {
			continue
		}
		meta, err := modcache.Meta(res.dirs.modcache, mv, ".info", ".mod", ".ziphash")
		if err != nil {
			return nil, err
		}
		tree, err := modcache.Tree(res.dirs.modcache, mv)
		if err != nil {
			return nil, err
		}
		files = append(append(files, meta...), tree...)
	}
	carried := map[module.Version]bool{}
	for _, mv := range goModSums(readIfExists(filepath.Join(res.workdir, hostSumFile))) {
		carried[mv] = true
	}
	for _, mv := range goModSums(readIfExists(filepath.Join(res.dirs.module, "go.sum"))) {
		if carried[mv] {
			continue
		}
		meta, err := modcache.Meta(res.dirs.modcache, mv, ".info", ".mod")
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

// goSums returns the hashes of module zips that a go.sum names, by "path
// version".
func goSums(sums string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(sums, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && !strings.HasSuffix(f[1], "/go.mod") {
			out[f[0]+" "+f[1]] = f[2]
		}
	}
	return out
}

// sortedSums writes go.sum with its lines sorted and returns its path: the
// go command keeps the order of lines it did not add, and the same plugin
// set must give the same bundle.
func (res *resolution) sortedSums() (string, error) {
	sums, err := os.ReadFile(filepath.Join(res.dirs.module, "go.sum"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	lines := slices.Compact(slices.Sorted(slices.Values(strings.Split(strings.TrimSpace(string(sums)), "\n"))))
	out := filepath.Join(res.workdir, "go.sum.sorted")
	return out, os.WriteFile(out, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

func sortFiles(files []bundle.File) {
	slices.SortFunc(files, func(a, b bundle.File) int { return strings.Compare(a.Name, b.Name) })
}

// dedupFiles sorts files by name and drops repeated names.
func dedupFiles(files []bundle.File) []bundle.File {
	sortFiles(files)
	return slices.CompactFunc(files, func(a, b bundle.File) bool { return a.Name == b.Name })
}
