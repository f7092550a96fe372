package selfcompile

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// The plugin bundle makes a binary self-contained: the stub embeds it as
// PluginBundleFile, next to the host bundle, so that an install never
// recompresses the toolchain. It has the host bundle's format, with three
// parts: the source of every plugin installed from a local folder, the
// modules that only the plugins need (as a module cache tree, like the
// host's), and the go.sum of the last build. Any later rebuild restores it,
// so it works offline, after a plugin's folder is gone, and on another
// machine that got a copy of the binary.

// PluginBundleFile is the name of the plugin bundle in the main package.
const PluginBundleFile = "selfcompile_plugins.bundle"

const (
	partLocal = "local" // "<escaped module path>/<file>" for each local plugin module
	partSums  = "sums"  // go.sum
)

// localDir returns where the copy of a local plugin module is restored.
func localDir(workdir, modPath string) (string, error) {
	esc, err := module.EscapePath(modPath)
	if err != nil {
		return "", err
	}
	return filepath.Join(workdir, "plugins", filepath.FromSlash(esc)), nil
}

// restorePluginBundle lays out a binary's plugin bundle: local plugin
// sources into the workdir, modules into the host's module cache, and the
// go.sum lines after the host's own. It returns the restored local plugin
// modules, by module path.
func restorePluginBundle(data string, r *restored, workdir string) (map[string]string, error) {
	local := map[string]string{}
	if data == "" {
		return local, nil
	}
	if err := checkTrailer(data); err != nil {
		return nil, err
	}
	br, err := openBundle(strings.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer br.Close()
	for _, p := range br.Manifest.Parts {
		switch p.Name {
		case partLocal:
			dir := filepath.Join(workdir, "plugins")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, err
			}
			if err := br.restorePart(partLocal, dir, nil); err != nil {
				return nil, err
			}
			for _, mod := range br.Manifest.LocalModules {
				d, err := localDir(workdir, mod)
				if err != nil {
					return nil, corrupt("local module %q: %v", mod, err)
				}
				local[mod] = d
			}
		case partModules:
			if err := restoreMerged(br, partModules, r.modcache, filepath.Join(r.modcache, ".selfcompile-"+p.Digest[:24]), nil); err != nil {
				return nil, err
			}
		case partSums:
			dir, err := os.MkdirTemp(workdir, "sums-")
			if err != nil {
				return nil, err
			}
			if err := br.restorePart(partSums, dir, nil); err != nil {
				return nil, err
			}
			sums, err := os.ReadFile(filepath.Join(dir, "go.sum"))
			if err != nil {
				return nil, corrupt("the plugin bundle has no go.sum")
			}
			if err := appendLines(filepath.Join(r.src, "go.sum"), string(sums)); err != nil {
				return nil, err
			}
		default:
			return nil, corrupt("unknown part %q in the plugin bundle", p.Name)
		}
	}
	return local, br.end()
}

// stageLocalPlugins copies the module of every plugin installed from a
// local folder into the workdir, where the plugin bundle's copies already
// are, and points the plugins at the copies. The go.mod replace that
// builds them is then a relative path, the same for every build, so the
// same plugin set always gives the same binary; and the bundle is made
// from what was built.
func stageLocalPlugins(ctx context.Context, plugins []pluginSpec, workdir, mainModule string) error {
	staged := map[string]string{}
	for i, p := range plugins {
		if p.moduleDir == "" {
			continue
		}
		if p.modulePath == mainModule {
			return &PluginError{Spec: p.raw, Reason: "it is part of the host module " + mainModule + "; install it by its import path " + p.importPath}
		}
		dst, err := localDir(workdir, p.modulePath)
		if err != nil {
			return &PluginError{Spec: p.raw, Reason: err.Error()}
		}
		if d, ok := staged[p.modulePath]; ok {
			plugins[i].moduleDir = d
			continue
		}
		if p.moduleDir != dst {
			if !isDir(p.moduleDir) {
				return &PluginError{Spec: p.raw, Reason: "it was installed from " + p.moduleDir + ", which no longer exists, and the binary carries no copy of it"}
			}
			files, err := collectSource(ctx, p.moduleDir, ".", "")
			if err != nil {
				return &PluginError{Spec: p.raw, Reason: "reading its folder: " + err.Error()}
			}
			os.RemoveAll(dst)
			for _, f := range files {
				if err := copyToNew(f.src, filepath.Join(dst, filepath.FromSlash(f.name))); err != nil {
					return err
				}
			}
		}
		staged[p.modulePath] = dst
		plugins[i].moduleDir = dst
	}
	return nil
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

// writePluginBundle writes the plugin bundle for a resolved plugin set:
// the sources of the local plugins, the modules of the build list that
// the host's own build list does not have, and go.sum.
func writePluginBundle(ctx context.Context, r *restored, plugins []pluginSpec, host, after map[string]listedModule, out string) error {
	m := &Manifest{GoVersion: r.m.GoVersion, GOOS: r.m.GOOS, GOARCH: r.m.GOARCH, MainModule: r.m.MainModule, MainPackage: r.m.MainPackage, MainDir: r.m.MainDir}
	var local []bundleFile
	for _, p := range plugins {
		if p.moduleDir == "" || slices.Contains(m.LocalModules, p.modulePath) {
			continue
		}
		esc, err := module.EscapePath(p.modulePath)
		if err != nil {
			return err
		}
		files, err := collectSource(ctx, p.moduleDir, ".", "")
		if err != nil {
			return err
		}
		for _, f := range files {
			f.name = esc + "/" + f.name
			local = append(local, f)
		}
		m.LocalModules = append(m.LocalModules, p.modulePath)
	}
	var mods []module.Version
	for path, a := range after {
		if h, ok := host[path]; ok && h.Version == a.Version {
			continue // in the host's bundle
		}
		if mv, ok := a.cached(); ok {
			mods = append(mods, mv)
		}
	}
	modFiles, err := moduleFiles(r.modcache, mods)
	if err != nil {
		return err
	}
	sortFiles(local)
	// go.sum with its lines sorted: the go command leaves the order of the
	// lines it did not add, and the same plugin set must give the same
	// bundle.
	sums, err := os.ReadFile(filepath.Join(r.src, "go.sum"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	lines := slices.Compact(slices.Sorted(slices.Values(strings.Split(strings.TrimSpace(string(sums)), "\n"))))
	sumFile := filepath.Join(filepath.Dir(r.src), "go.sum.sorted")
	if err := os.WriteFile(sumFile, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	parts := []bundlePart{
		{partLocal, local},
		{partModules, modFiles},
		{partSums, []bundleFile{{name: "go.sum", src: sumFile}}},
	}
	return writeFileAtomic(out, func(f *os.File) error { return writeBundle(f, m, parts, LevelDefault) })
}

// cached returns the module version whose files the module cache holds for
// m: m itself, or what it is replaced by. A module replaced by a directory,
// and the main module, have none.
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

// moduleFiles lists, for each module, the files that the go command reads
// from its module cache: cache/download/PATH/@v/VERSION.{info,mod,ziphash},
// and the extracted source without tests and test data, where the module
// provides packages.
func moduleFiles(modcache string, mods []module.Version) ([]bundleFile, error) {
	var files []bundleFile
	for _, mv := range mods {
		esc, err := module.EscapePath(mv.Path)
		if err != nil {
			return nil, err
		}
		escV, err := module.EscapeVersion(mv.Version)
		if err != nil {
			return nil, err
		}
		for _, ext := range []string{".info", ".mod", ".ziphash"} {
			name := "cache/download/" + esc + "/@v/" + escV + ext
			if _, err := os.Stat(filepath.Join(modcache, filepath.FromSlash(name))); err == nil {
				files = append(files, bundleFile{name: name, src: filepath.Join(modcache, filepath.FromSlash(name))})
			}
		}
		root := filepath.Join(modcache, filepath.FromSlash(esc+"@"+escV))
		if !isDir(root) {
			continue // only its go.mod is needed
		}
		err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(modcache, p)
			files = append(files, bundleFile{name: filepath.ToSlash(rel), src: p, exec: fi.Mode()&0o111 != 0})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	sortFiles(files)
	return files, nil
}

func sortFiles(files []bundleFile) {
	slices.SortFunc(files, func(a, b bundleFile) int { return strings.Compare(a.name, b.name) })
}
