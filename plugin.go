package selfcompile

// Plugins: what a binary records of each, and the specs a user names them
// by, checked before any work.

import (
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/spec"
)

// PluginInfo describes a plugin compiled into a binary. The stub records
// it at build time; Installed returns it at run time.
type PluginInfo struct {
	// ImportPath is the plugin package's import path.
	ImportPath string `json:"path"`
	// Module is the path of the module that provides the package.
	Module string `json:"module,omitempty"`
	// Version is the module version, or "" for a package of the host's
	// own module or a local directory.
	Version string `json:"version,omitempty"`
	// Local is the directory the plugin was installed from, for plugins
	// given as a local directory.
	Local string `json:"local,omitempty"`
	// Sum is the "h1:" hash of what was compiled in: the module's zip, as
	// go.sum has it, or, for a plugin from a local folder, the files
	// carried from it (golang.org/x/mod/sumdb/dirhash). It is empty for a
	// package of the host's own module.
	Sum string `json:"sum,omitempty"`
	// Origin says where the plugin came from: "catalog" (through the
	// vendor's catalog), "module" (a module version, through the module
	// proxy or from what the binary carries), "local" (a folder) or
	// "host" (a package of the host's own module). A binary records no
	// time: the same plugin set builds to the same bytes on every machine.
	Origin string `json:"origin,omitempty"`
	// Name and Catalog are, for a plugin installed through the vendor's
	// catalog, its name there and the sequence number of the catalog that
	// allowed it.
	Name    string `json:"name,omitempty"`
	Catalog int64  `json:"catalog,omitempty"`
}

// String returns the plugin the way a user names it.
func (p PluginInfo) String() string {
	if p.Version != "" {
		return p.ImportPath + "@" + p.Version
	}
	return p.ImportPath
}

// Shares reports whether p and q are one package, or packages of one
// module: a process can hold only one of them as a Go plugin, which
// cannot be unloaded or replaced.
func (p PluginInfo) Shares(q PluginInfo) bool {
	return p.ImportPath == q.ImportPath || p.Module != "" && p.Module == q.Module
}

// Describe formats a plugin as a line of "plugin list": its import path,
// then its version, or "local" and the folder it came from, or "host" for
// a package of the host's own module.
func (p PluginInfo) Describe() string {
	return p.ImportPath + " " + p.describeVersion()
}

func (p PluginInfo) describeVersion() string {
	switch {
	case p.Local != "":
		return "local " + p.Local
	case p.Version != "":
		return p.Version
	}
	return "host"
}

// pluginSpec is a parsed plugin argument: an import path with an optional
// version, or a local directory.
type pluginSpec struct {
	raw        string
	importPath string            // set for import-path specs, and for local ones once resolved
	version    string            // "" when none was given
	dir        string            // absolute directory, for local specs
	modulePath string            // module of a local spec, of a catalog or installed plugin, and of a version query once resolved
	moduleDir  string            // source of a local plugin's module: its folder, or the copy the binary carries
	isNew      bool              // being added or upgraded now, as opposed to kept as installed
	pinned     bool              // installed at version before, kept there
	replaced   []string          // modules a local plugin's go.mod replaces: not followed
	installed  *PluginInfo       // what the binary records of it, for one kept or upgraded
	listed     *gosrc.ModuleInfo // the module go list says provides it
	listedIn   *catalogEntry     // what the catalog says of it, for one added or upgraded through it
	process    bool              // a process plugin (InstallProcess), not one compiled in
	sum        string            // the h1: hash of a process plugin's module, once downloaded
}

// parseSpec validates a plugin argument before any work is done. Import
// paths and versions are checked with golang.org/x/mod (package spec); a
// local directory must exist and sit inside a Go module.
func parseSpec(s string) (pluginSpec, error) {
	if spec.IsLocal(s) {
		return parseLocalSpec(s)
	}
	p, v, err := spec.Split(s)
	if err != nil {
		return pluginSpec{}, &PluginError{Spec: s, Reason: err.Error()}
	}
	return pluginSpec{raw: s, importPath: p, version: v}, nil
}

// parseLocalSpec resolves a local directory to its module and import path.
func parseLocalSpec(s string) (pluginSpec, error) {
	bad := func(reason string) (pluginSpec, error) {
		return pluginSpec{}, &PluginError{Spec: s, Reason: reason}
	}
	dir, err := filepath.Abs(s)
	if err != nil {
		return bad(err.Error())
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return bad("local directory not found")
	}
	if !fi.IsDir() {
		return bad("not a directory")
	}
	if !hasGoFiles(dir) {
		return bad("no Go files (tests aside) in " + dir + ": a plugin is a Go package")
	}
	root := dir
	for {
		data, err := os.ReadFile(filepath.Join(root, "go.mod"))
		if err == nil {
			modPath := modfile.ModulePath(data)
			if modPath == "" {
				return bad(filepath.Join(root, "go.mod") + " has no module line")
			}
			if err := module.CheckPath(modPath); err != nil {
				return bad("module path in " + filepath.Join(root, "go.mod") + " is not valid: " + spec.PathReason(err))
			}
			rel, err := filepath.Rel(root, dir)
			if err != nil {
				return bad(err.Error())
			}
			ip := modPath
			if rel != "." {
				ip = modPath + "/" + filepath.ToSlash(rel)
			}
			if err := module.CheckImportPath(ip); err != nil {
				return bad("directory does not give a valid import path: " + spec.PathReason(err))
			}
			return pluginSpec{raw: s, importPath: ip, dir: dir, modulePath: modPath, moduleDir: root}, nil
		}
		parent := filepath.Dir(root)
		if parent == root {
			return bad("directory is not inside a Go module (no go.mod found in it or above it); run 'go mod init' there")
		}
		root = parent
	}
}

// hasGoFiles reports whether dir holds a Go file that is not a test.
func hasGoFiles(dir string) bool {
	matches, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, m := range matches {
		if !strings.HasSuffix(m, "_test.go") {
			return true
		}
	}
	return false
}
