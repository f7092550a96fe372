package selfcompile

// Process plugins: plugins that are programs of their own, which the host
// starts and talks to over RPC (github.com/hashicorp/go-plugin, through
// module processplugin). Each is built from its source with the bundled
// toolchain, in a module graph of its own: the plugin's go.mod, plus the
// host's module at the host's own version, the restored source. The
// host's build list and executable are not touched.

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/lockfile"
)

// ProcessPlugin is a plugin built as an executable of its own, which the
// host starts as a process: what InstallProcess built and what the
// manifest of the process plugins' directory records of it.
type ProcessPlugin struct {
	// Name is the executable's name in the directory, without ".exe":
	// the last element of the main package's import path.
	Name string `json:"name"`
	// ImportPath is the plugin's main package, and Module its module.
	ImportPath string `json:"importPath"`
	Module     string `json:"module"`
	// Version is the module version it was built from; "" for a folder.
	Version string `json:"version,omitempty"`
	// Local is the folder it was built from; "" for a module version.
	Local string `json:"local,omitempty"`
	// Sum is the h1: hash of the module it was built from, as go.sum has
	// it; "" for a folder.
	Sum string `json:"sum,omitempty"`
	// Origin says where it came from, as PluginInfo.Origin does: "catalog",
	// "module" or "local"; Catalog is, for one installed through the
	// vendor's catalog, its name there and the sequence number of the
	// catalog that allowed it, as "NAME (sequence N)".
	Origin  string `json:"origin,omitempty"`
	Catalog string `json:"catalog,omitempty"`
	// SHA256 is the executable's sha256, in hex, as the build wrote it:
	// a host checks it before every start.
	SHA256 string `json:"sha256"`
	// Previous is the sha256 of the executable it replaced, kept beside
	// it as NAME.previous; "" when there is none. Replaced is what the
	// manifest recorded of that install, which a rollback puts back.
	Previous string         `json:"previous,omitempty"`
	Replaced *ProcessPlugin `json:"replaced,omitempty"`
	// GoVersion is the Go toolchain that built it.
	GoVersion string `json:"goVersion"`
	// Host is the host module it was built against, which replaced the
	// plugin's requirement of it: its path and the host's digest of its
	// source.
	Host string `json:"host"`
	// Installed is when it was built.
	Installed time.Time `json:"installed"`
	// Path is the executable, in the directory it was read from.
	Path string `json:"-"`
}

// ProcessManifest is the name of the manifest file in the process
// plugins' directory: JSON, the plugins as ProcessPlugin records them.
const ProcessManifest = "manifest.json"

// previousSuffix ends the name of the executable a process plugin's
// install replaced, kept for a rollback.
const previousSuffix = ".previous"

// processManifest is the manifest's content.
type processManifest struct {
	Plugins []ProcessPlugin `json:"plugins"`
}

// DefaultProcessDir is the directory of the process plugins of the
// executable exe, when SelfCompile.ProcessDir is not set: "NAME.plugins"
// beside it, NAME its name without ".exe".
func DefaultProcessDir(exe string) string {
	return filepath.Join(filepath.Dir(exe), strings.TrimSuffix(filepath.Base(exe), ".exe")+".plugins")
}

// ReadProcessPlugins reads the manifest of the process plugins' directory
// dir, sorted by name, each with its Path set. A directory without a
// manifest has none.
func ReadProcessPlugins(dir string) ([]ProcessPlugin, error) {
	plugins, err := readProcessPlugins(dir)
	return plugins, apiErr(err)
}

// readProcessPlugins is ReadProcessPlugins, for the package's own use.
func readProcessPlugins(dir string) ([]ProcessPlugin, error) {
	data, err := os.ReadFile(filepath.Join(dir, ProcessManifest))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m processManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, ProcessManifest), err)
	}
	for i := range m.Plugins {
		m.Plugins[i].Path = filepath.Join(dir, m.Plugins[i].Name+exeSuffix())
	}
	slices.SortFunc(m.Plugins, func(a, b ProcessPlugin) int { return strings.Compare(a.Name, b.Name) })
	return m.Plugins, nil
}

// writeProcessPlugins writes the manifest of dir atomically.
func writeProcessPlugins(dir string, plugins []ProcessPlugin) error {
	data, err := json.MarshalIndent(processManifest{Plugins: plugins}, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(filepath.Join(dir, ProcessManifest), 0o644, func(w io.Writer) error {
		_, err := w.Write(append(data, '\n'))
		return err
	})
}

// ProcessPlugins returns the process plugins installed for the executable
// (see ProcessDir).
func (c *SelfCompile) ProcessPlugins() ([]ProcessPlugin, error) {
	plugins, err := c.processPlugins()
	return plugins, apiErr(err)
}

// processPlugins is ProcessPlugins, for the package's own use.
func (c *SelfCompile) processPlugins() ([]ProcessPlugin, error) {
	dir, err := c.processDir()
	if err != nil {
		return nil, err
	}
	return readProcessPlugins(dir)
}

// processInfos describes process plugins as compiled-in ones are
// described, for the vendor's checks of what is installed.
func processInfos(processes []ProcessPlugin) []PluginInfo {
	var out []PluginInfo
	for _, p := range processes {
		out = append(out, PluginInfo{ImportPath: p.ImportPath, Module: p.Module, Version: p.Version, Local: p.Local, Sum: p.Sum, Origin: p.Origin})
	}
	return out
}

// processDir is ProcessDir, or its default beside the executable.
func (c *SelfCompile) processDir() (string, error) {
	if c.ProcessDir != "" {
		return filepath.Abs(c.ProcessDir)
	}
	target, err := c.target()
	if err != nil {
		return "", err
	}
	return DefaultProcessDir(target), nil
}

// InstallProcess builds the main package at spec, a local folder (a path
// starting with "./", "../" or "/") or an import path with an optional
// version ("path@v1.2.0", latest by default), as a process plugin of the
// host, and
// places its executable in the process plugins' directory (ProcessDir),
// replacing one of the same name, which is kept as NAME.previous. It is
// built with the toolchain and the modules the executable carries, in the
// plugin's own module graph: its go.mod, with the host's module replaced
// by the host's own source (and the host's replacements), so that the
// interfaces it serves are the host's code at the host's version, while
// the other modules may be at versions the host does not have. Modules
// that neither the plugin's folder nor the executable provides come from
// GOPROXY, as for any install. The executable on disk is not changed.
func (c *SelfCompile) InstallProcess(ctx context.Context, spec string) (*ProcessPlugin, error) {
	p, err := c.installProcess(ctx, spec)
	return p, apiErr(err)
}

// installProcess is InstallProcess: begin, admit the plugin under the
// vendor's policy, restore, fetch it when it is a module version, and
// build it into the process plugins' directory.
func (c *SelfCompile) installProcess(ctx context.Context, arg string) (p *ProcessPlugin, err error) {
	sp, err := parseProcessSpec(arg)
	if err != nil {
		return nil, err
	}
	dir, err := c.processDir()
	if err != nil {
		return nil, err
	}
	release, err := c.lockProcessDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer release()
	removeUnplaced(dir)
	r, err := c.begin(ctx, runOptions{})
	if err != nil {
		return nil, canceled(ctx, StageStart, err)
	}
	defer r.end()
	defer func() { err = canceled(ctx, r.current, err) }()
	v, err := r.admitProcess(ctx, &sp)
	if err != nil {
		return nil, err
	}
	l, err := r.restore(ctx, false)
	if err != nil {
		return nil, err
	}
	res := l.unresolved(v)
	local := sp.dir
	if local == "" {
		if err := res.fetchProcess(ctx, &sp); err != nil {
			return nil, err
		}
	}
	p = &ProcessPlugin{
		Name:       ProcessName(sp.importPath),
		ImportPath: sp.importPath,
		Module:     sp.modulePath,
		Version:    sp.version,
		Local:      local,
		Sum:        sp.sum,
		Origin:     "module",
		GoVersion:  l.bin.Toolchain.Manifest.GoVersion,
		Host:       l.hostRef(),
	}
	switch {
	case local != "":
		p.Origin = "local"
	case sp.listedIn != nil:
		p.Origin, p.Catalog = "catalog", fmt.Sprintf("%s (sequence %d)", sp.listedIn.name, sp.listedIn.seq)
	}
	if installed, err := readProcessPlugins(dir); err != nil {
		return nil, err
	} else if err := sameName(installed, p); err != nil { // before building it
		return nil, err
	}
	tmp, err := res.buildProcess(ctx, sp, dir, p.Name)
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp)
	if p.SHA256, err = fsutil.SHA256(tmp); err != nil {
		return nil, err
	}
	if err := placeProcess(dir, p, tmp); err != nil {
		return nil, err
	}
	c.logf("Installed process plugin %s: %s", p.Name, p.Path)
	return p, nil
}

// parseProcessSpec checks a process plugin's spec: a local folder of a
// main package, or a main package's import path with an optional version
// (latest by default), whose module is fetched once the go command is
// restored.
func parseProcessSpec(arg string) (pluginSpec, error) {
	sp, err := parseSpec(arg)
	if err != nil {
		return sp, err
	}
	sp.process = true
	if err := checkProcessName(sp); err != nil {
		return sp, err
	}
	if sp.dir == "" {
		sp.version = cmp.Or(sp.version, "latest")
		return sp, nil
	}
	return sp, checkMain(sp)
}

// checkProcessName refuses a plugin whose executable would have a name
// that the process plugins' directory keeps for itself.
func checkProcessName(sp pluginSpec) error {
	if name := ProcessName(sp.importPath); name+exeSuffix() == ProcessManifest || strings.HasSuffix(name, previousSuffix) {
		return &PluginError{Spec: sp.raw, Reason: "its executable would be named " + name + ", a name the process plugins' directory keeps for itself"}
	}
	return nil
}

// checkMain refuses a plugin whose package, in sp.dir, is not a program.
func checkMain(sp pluginSpec) error {
	if name := packageName(sp.dir); name != "main" {
		return &PluginError{Spec: sp.raw, Reason: fmt.Sprintf("it is package %s, and a process plugin is a program: package main, whose main serves the host's plugin interfaces", name)}
	}
	return nil
}

// fetchProcess resolves a process plugin given by import path and version
// to the module version that provides it, as installs of compiled-in
// plugins do, and copies that module into the workdir (the module cache is
// read-only): the folder it is built in.
func (res *resolution) fetchProcess(ctx context.Context, sp *pluginSpec) error {
	mv := module.Version{Path: sp.modulePath, Version: sp.version}
	if sp.listedIn == nil { // the catalog named the module version
		found, err := res.queryPlugins(ctx, []pluginSpec{*sp})
		if err != nil {
			return err
		}
		mv = found[0]
	}
	g := res.g
	g.Dir = res.workdir
	var mod struct{ Dir, Sum string }
	if err := g.JSON(ctx, &mod, "mod", "download", "-json", "--", mv.String()); err != nil || mod.Dir == "" {
		if msg := fmt.Sprint(err); needsNetwork(msg) {
			return &NetworkError{Plugins: []string{sp.raw}, Module: mv.Path, Version: mv.Version, Reason: msg}
		}
		return &PluginError{Spec: sp.raw, Reason: "downloading " + mv.String(), Err: res.goError(err)}
	}
	if sp.listedIn != nil { // its files and go.mod are the catalog's, whatever GOSUMDB, GONOSUMDB, GOINSECURE or GOFLAGS let through
		if _, err := res.vendor.checkListed(res.dirs.modcache, gosrc.Module{Path: mv.Path, Version: mv.Version}, sp.raw); err != nil {
			return err
		}
	}
	sp.sum = mod.Sum
	dst := filepath.Join(res.workdir, "process", "module")
	if err := os.CopyFS(dst, os.DirFS(mod.Dir)); err != nil {
		return err
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(sp.importPath, mv.Path), "/")
	sp.modulePath, sp.version, sp.moduleDir = mv.Path, mv.Version, dst
	sp.dir = filepath.Join(dst, filepath.FromSlash(rel))
	return checkMain(*sp)
}

// packageName returns the package name of the first Go file in dir that
// is not a test.
func packageName(dir string) string {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		if f, err := parser.ParseFile(token.NewFileSet(), m, nil, parser.PackageClauseOnly); err == nil {
			return f.Name.Name
		}
	}
	return ""
}

// admitProcess refuses, before anything is restored, a process plugin
// that is part of the host module, or that the vendor's catalog and
// policy refuse as they would refuse the same folder as a compiled-in
// plugin.
func (r *run) admitProcess(ctx context.Context, sp *pluginSpec) (*vendor, error) {
	if host := r.bin.Shared.Manifest.MainModule; sp.modulePath == host {
		return nil, &PluginError{Spec: sp.raw, Reason: "it is part of the host module " + host + "; a process plugin is a module of its own"}
	}
	v, err := r.c.loadVendor(ctx, r.bin, r.rec, r.cache)
	if err != nil || v == nil {
		return nil, err
	}
	v.name(sp)
	if sp.dir != "" && len(v.cat.ByModule(sp.modulePath)) > 0 {
		return nil, &catalog.RefusedError{Plugin: sp.raw, Rule: "catalog version", Reason: "its module " + sp.modulePath + " is one the catalog lists: install the catalog's version by name"}
	}
	return v, v.resolve(sp, r.c.AllowUnlisted)
}

// removeUnplaced removes, from the process plugins' directory dir, whose
// lock the caller holds, the new executables that killed installs left,
// and the executables that earlier changes put aside while a host ran
// them, those that no longer run.
func removeUnplaced(dir string) {
	for _, infix := range []string{newInfix, asideInfix} {
		left, _ := filepath.Glob(filepath.Join(dir, ".*"+infix+"*"))
		for _, f := range left {
			removeFile(f) // fails, harmlessly, for one that still runs
		}
	}
}

// newInfix is in the name of a new executable until it is in place, and
// asideInfix in the name of one that a change put aside to remove it.
const (
	newInfix   = ".new-"
	asideInfix = ".old-"
)

// removeFile and renameFile are how changes of process plugins remove and
// rename files: a seam, for the tests of Windows' rules.
var (
	removeFile = os.Remove
	renameFile = os.Rename
)

// discard removes the executable f, which a host may be running. Windows
// refuses to delete or replace a running executable but lets it be
// renamed: f is renamed aside, to a hidden name in its directory, and
// removed from there if it can be; one that still runs is removed by a
// later change in the directory (removeUnplaced). A missing f is no
// error.
func discard(f string) error {
	aside := filepath.Join(filepath.Dir(f), fmt.Sprintf(".%s%s%x", filepath.Base(f), asideInfix, rand.Uint64()))
	if err := renameFile(f, aside); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return &TargetError{Path: f, Err: err}
	}
	removeFile(aside) // fails, harmlessly, while a host runs it
	return nil
}

// ProcessName is the name of the executable of a process plugin whose main
// package is importPath (without .exe): the last element of the path, or
// the one before it for a major version suffix, as go install names it.
func ProcessName(importPath string) string {
	name := path.Base(importPath)
	if digits := strings.TrimPrefix(name, "v"); digits != name && digits != "" && strings.Trim(digits, "0123456789") == "" && path.Dir(importPath) != "." {
		return path.Base(path.Dir(importPath))
	}
	return name
}

// lockProcessDir creates the process plugins' directory and takes its
// lock, which installs and removals in it hold.
func (c *SelfCompile) lockProcessDir(ctx context.Context, dir string) (release func(), err error) {
	if err := checkUnprivileged(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, &TargetError{Path: dir, Err: err}
	}
	name := filepath.Join(dir, ".selfcompile.lock")
	l, err := lockfile.Open(ctx, name, true, !c.NoWait, func() {
		c.logf("Waiting for another change of the process plugins in %s to finish", dir)
	})
	switch {
	case err == lockfile.ErrBusy:
		return nil, fmt.Errorf("%w on %s (the lock is %s)", ErrLocked, dir, name)
	case err != nil:
		return nil, &TargetError{Path: dir, Err: err}
	}
	return l.Release, nil
}

// hostRef names the host's module as a process plugin is built against
// it: its path and the digest of the source the executable carries.
func (l *layout) hostRef() string {
	m := l.bin.Shared.Manifest
	if p, ok := m.Part(bundle.PartSource); ok {
		return m.MainModule + " " + p.Digest[:24]
	}
	return m.MainModule + " " + l.hostRecord().HostVersion
}

// buildProcess builds the plugin's main package into a temporary file in
// dir and returns its name. The go command runs in the plugin's folder
// with -modfile: the go.mod and go.sum it reads and writes are copies in
// the workdir, so that the folder is not written.
func (res *resolution) buildProcess(ctx context.Context, sp pluginSpec, dir, name string) (string, error) {
	done := res.stage(StageBuild)
	modFile, err := res.processGoMod(sp)
	if err != nil {
		return "", err
	}
	g := res.g
	g.Dir = sp.dir
	if err := res.checkProcessModules(ctx, sp, g, modFile); err != nil {
		return "", err
	}
	f, err := os.CreateTemp(dir, "."+name+newInfix)
	if err != nil {
		return "", &TargetError{Path: dir, Err: err}
	}
	tmp := f.Name()
	f.Close()
	res.c.logf("Compiling process plugin %s", sp.importPath)
	if _, err := g.Run(ctx, "build", "-trimpath", "-modfile="+modFile, "-o", tmp, "."); err != nil {
		os.Remove(tmp)
		return "", res.goError(err)
	}
	done()
	return tmp, nil
}

// checkProcessModules checks, with a vendor's catalog, each module of a
// process plugin's build list that the catalog lists, as an install of a
// compiled-in plugin checks those of the program's: at a version it allows
// for this host, not replaced, with the files and go.mod it hashed,
// whatever GOSUMDB, GONOSUMDB, GOINSECURE or GOFLAGS say. g runs in the
// plugin's folder.
func (res *resolution) checkProcessModules(ctx context.Context, sp pluginSpec, g gocmd.Go, modFile string) error {
	v := res.vendor
	if v == nil {
		return nil
	}
	out, err := g.Run(ctx, "list", "-modfile="+modFile, "-m", "all")
	if err != nil {
		return res.goError(err)
	}
	mods, err := gosrc.ParseModList(strings.Split(strings.TrimSpace(string(out)), "\n"))
	if err != nil {
		return err
	}
	for _, m := range mods {
		if m.Main || len(v.cat.ByModule(m.Path)) == 0 {
			continue
		}
		if m.Replace == nil { // its files, for their hash
			if _, err := g.Run(ctx, "mod", "download", "-modfile="+modFile, "--", m.Path+"@"+m.Version); err != nil {
				return res.goError(err)
			}
		}
		if _, err := v.checkListed(res.dirs.modcache, m, sp.raw); err != nil {
			return err
		}
	}
	return nil
}

// processGoMod writes the go.mod and go.sum a process plugin builds with,
// in the workdir, and returns the go.mod's name: the plugin's, with the
// host module replaced by the restored source at the host's version, the
// host's own replacements (their folders made absolute) in place of the
// plugin's for the same modules, and the host's go.sum lines added.
func (res *resolution) processGoMod(sp pluginSpec) (string, error) {
	modPath := filepath.Join(sp.moduleDir, "go.mod")
	data, err := os.ReadFile(modPath)
	if err != nil {
		return "", &PluginError{Spec: sp.raw, Reason: "reading its go.mod", Err: err}
	}
	f, err := modfile.Parse(modPath, data, nil)
	if err != nil {
		return "", &PluginError{Spec: sp.raw, Reason: "its go.mod does not parse", Err: err}
	}
	hostMod, err := res.gomod.read()
	if err != nil {
		return "", err
	}
	host := res.bin.Shared.Manifest.MainModule
	replaces := []*modfile.Replace{{Old: module.Version{Path: host}, New: module.Version{Path: res.dirs.module}}}
	for _, r := range hostMod.Replace {
		if modfile.IsDirectoryPath(r.New.Path) && !filepath.IsAbs(r.New.Path) {
			r.New.Path = filepath.Join(res.dirs.module, filepath.FromSlash(r.New.Path))
		}
		replaces = append(replaces, r)
	}
	for _, r := range replaces {
		for _, old := range f.Replace {
			if old.Old.Path == r.Old.Path {
				f.DropReplace(old.Old.Path, old.Old.Version)
			}
		}
		if err := f.AddReplace(r.Old.Path, r.Old.Version, r.New.Path, r.New.Version); err != nil {
			return "", err
		}
	}
	if !slices.ContainsFunc(f.Require, func(r *modfile.Require) bool { return r.Mod.Path == host }) {
		if err := f.AddRequire(host, localVersion); err != nil {
			return "", err
		}
	}
	f.Cleanup()
	out, err := f.Format()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(res.workdir, "process", "go.mod")
	if err := fsutil.Copy(dst, strings.NewReader(string(out)), 0o644); err != nil {
		return "", err
	}
	return dst, writeSums(filepath.Join(res.workdir, "process", "go.sum"),
		filepath.Join(sp.moduleDir, "go.sum"), filepath.Join(res.dirs.module, "go.sum"))
}

// writeSums writes to dst the lines of the go.sum files srcs, each once.
func writeSums(dst string, srcs ...string) error {
	var lines []string
	for _, s := range srcs {
		data, _ := os.ReadFile(s) // a module without dependencies has none
		lines = append(lines, strings.Split(string(data), "\n")...)
	}
	slices.Sort(lines)
	lines = slices.Compact(lines)
	return fsutil.Copy(dst, strings.NewReader(strings.TrimPrefix(strings.Join(lines, "\n"), "\n")+"\n"), 0o644)
}

// placeProcess puts the new executable tmp, in dir, in place of p's, the
// one it replaces kept as NAME.previous, and records p in the manifest.
// Renames within dir make each step atomic: a host that reads the
// manifest between them finds a sum that does not match, and refuses to
// start the plugin until the manifest is written. No step replaces a
// file that a host may run (which Windows refuses): the previous
// executable that NAME.previous held, and an executable the manifest no
// longer lists, are put aside first (discard).
func placeProcess(dir string, p *ProcessPlugin, tmp string) error {
	plugins, err := readProcessPlugins(dir)
	if err != nil {
		return err
	}
	p.Path = filepath.Join(dir, p.Name+exeSuffix())
	p.Installed = time.Now().UTC().Truncate(time.Second)
	i := slices.IndexFunc(plugins, func(q ProcessPlugin) bool { return q.Name == p.Name })
	if err := sameName(plugins, p); err != nil {
		return err
	}
	var undo func()
	switch {
	case i >= 0 && plugins[i].SHA256 == p.SHA256 && fsutil.Exists(p.Path):
		// The same executable again: the one in place stays, and so does
		// the previous one, to roll back to.
		p.Previous, p.Replaced = plugins[i].Previous, plugins[i].Replaced
	case i >= 0 && fsutil.Exists(p.Path):
		if err := discard(p.Path + previousSuffix); err != nil {
			return err
		}
		if err := renameFile(p.Path, p.Path+previousSuffix); err != nil {
			return &TargetError{Path: p.Path, Err: err}
		}
		replaced := plugins[i]
		replaced.Replaced = nil
		p.Previous, p.Replaced = replaced.SHA256, &replaced
		undo = func() { renameFile(p.Path+previousSuffix, p.Path) }
		fallthrough
	default:
		if undo == nil {
			if err := discard(p.Path); err != nil {
				return err
			}
			undo = func() { os.Remove(p.Path) }
		}
		if err := renameFile(tmp, p.Path); err != nil {
			undo()
			return &TargetError{Path: p.Path, Err: err}
		}
	}
	if i >= 0 {
		plugins = slices.Delete(plugins, i, i+1)
	}
	err = fsutil.SyncDir(dir)
	if err == nil {
		err = writeProcessPlugins(dir, append(plugins, *p))
	}
	if err != nil && undo != nil { // the manifest still describes what was there
		undo()
	}
	return err
}

// sameName refuses a plugin whose executable would take the name of
// another plugin's, from another import path.
func sameName(plugins []ProcessPlugin, p *ProcessPlugin) error {
	i := slices.IndexFunc(plugins, func(q ProcessPlugin) bool { return q.Name == p.Name })
	if i < 0 || plugins[i].ImportPath == p.ImportPath {
		return nil
	}
	return &PluginError{Spec: p.ImportPath, Reason: fmt.Sprintf("the process plugin %s installed is %s, another program of the same name: remove it first (plugin remove --process %s)", p.Name, plugins[i].ImportPath, p.Name)}
}

// UpgradeProcess builds the process plugin name again: from the folder it
// was installed from, or at the latest version of its module for one
// installed from a module version. The executable it replaces is kept as
// NAME.previous, as InstallProcess keeps it.
func (c *SelfCompile) UpgradeProcess(ctx context.Context, name string) (*ProcessPlugin, error) {
	p, err := c.upgradeProcess(ctx, name)
	return p, apiErr(err)
}

func (c *SelfCompile) upgradeProcess(ctx context.Context, name string) (*ProcessPlugin, error) {
	_, plugins, i, release, err := c.installedProcess(ctx, name)
	if err != nil {
		return nil, err
	}
	release() // the install takes the lock again
	spec := plugins[i].Local
	if spec == "" {
		spec = plugins[i].ImportPath + "@latest"
	}
	return c.installProcess(ctx, spec)
}

// installedProcess takes the lock of the process plugins' directory,
// removes what earlier changes left in it (removeUnplaced), and returns
// the directory, its plugins and the index of the one named name; the
// caller releases the lock, unless err is not nil.
func (c *SelfCompile) installedProcess(ctx context.Context, name string) (dir string, plugins []ProcessPlugin, i int, release func(), err error) {
	if dir, err = c.processDir(); err != nil {
		return "", nil, 0, nil, err
	}
	if release, err = c.lockProcessDir(ctx, dir); err != nil {
		return "", nil, 0, nil, err
	}
	removeUnplaced(dir)
	plugins, err = readProcessPlugins(dir)
	i = slices.IndexFunc(plugins, func(p ProcessPlugin) bool { return p.Name == name })
	if err == nil && i < 0 {
		err = &PluginError{Spec: name, Reason: "no process plugin of that name is installed (see plugin list)"}
	}
	if err != nil {
		release()
		return "", nil, 0, nil, err
	}
	return dir, plugins, i, release, nil
}

// RemoveProcess removes the process plugin name: its executable, the
// previous one kept for a rollback, and its line in the manifest. A host
// that runs it keeps the process it started until it stops it; on
// Windows, whose hosts cannot delete a running executable, the file is
// renamed aside and removed by a later change once it no longer runs.
func (c *SelfCompile) RemoveProcess(ctx context.Context, name string) error {
	return apiErr(c.removeProcess(ctx, name))
}

func (c *SelfCompile) removeProcess(ctx context.Context, name string) error {
	dir, plugins, i, release, err := c.installedProcess(ctx, name)
	if err != nil {
		return err
	}
	defer release()
	p := plugins[i]
	if err := writeProcessPlugins(dir, slices.Delete(plugins, i, i+1)); err != nil {
		return err
	}
	for _, f := range []string{p.Path, p.Path + previousSuffix} {
		if err := discard(f); err != nil {
			return err
		}
	}
	return nil
}

// RollbackProcess puts back the executable that the last install of the
// process plugin name replaced, kept as NAME.previous, once its sha256 is
// checked against the one the manifest recorded for it; the executable it
// replaces becomes NAME.previous in turn, so that a second rollback undoes
// the first. The manifest keeps the plugin's other fields: they describe
// the last install.
func (c *SelfCompile) RollbackProcess(ctx context.Context, name string) error {
	return apiErr(c.rollbackProcess(ctx, name))
}

func (c *SelfCompile) rollbackProcess(ctx context.Context, name string) error {
	dir, plugins, i, release, err := c.installedProcess(ctx, name)
	if err != nil {
		return err
	}
	defer release()
	p := &plugins[i]
	prev := p.Path + previousSuffix
	if sum, err := fsutil.SHA256(prev); p.Previous == "" || err != nil {
		return &PluginError{Spec: name, Reason: "there is no previous executable to put back"}
	} else if sum != p.Previous {
		return &PluginError{Spec: name, Reason: fmt.Sprintf("%s changed since it was replaced (its sha256 is not the one recorded); install the plugin again instead", prev)}
	}
	aside := p.Path + newInfix + "rollback"
	for _, mv := range [][2]string{{p.Path, aside}, {prev, p.Path}, {aside, prev}} {
		if err := renameFile(mv[0], mv[1]); err != nil {
			return &TargetError{Path: mv[0], Err: err}
		}
	}
	if p.Replaced == nil { // a manifest of before Replaced: only the sha256 is known
		p.SHA256, p.Previous = p.Previous, p.SHA256
		return writeProcessPlugins(dir, plugins)
	}
	back, current := *p.Replaced, *p
	current.Replaced = nil
	back.Path, back.Previous, back.Replaced = p.Path, current.SHA256, &current
	plugins[i] = back
	return writeProcessPlugins(dir, plugins)
}
