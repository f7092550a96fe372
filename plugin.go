package selfcompile

// Plugins: what a binary records of each, and the specs a user names them
// by, checked before any work.

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"

	"github.com/shazow/go-selfcompile/internal/gosrc"
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
	modulePath string            // module of a local spec
	moduleDir  string            // source of a local plugin's module: its folder, or the copy the binary carries
	isNew      bool              // being added or upgraded now, as opposed to kept as installed
	pinned     bool              // installed at version before, kept there
	replaced   []string          // modules a local plugin's go.mod replaces: not followed
	installed  *PluginInfo       // what the binary records of it, for one kept or upgraded
	listed     *gosrc.ModuleInfo // the module go list says provides it
	listedIn   *catalogEntry     // what the catalog says of it, for one added or upgraded through it
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{7,40}$`)

// isLocalSpec reports whether s names a directory rather than an import path.
func isLocalSpec(s string) bool {
	return s == "." || s == ".." || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		filepath.IsAbs(s) || strings.HasPrefix(s, "/") ||
		(filepath.Separator == '\\' && (strings.HasPrefix(s, `.\`) || strings.HasPrefix(s, `..\`)))
}

// parseSpec validates a plugin argument before any work is done. Import
// paths and versions are checked with golang.org/x/mod; a local directory
// must exist and sit inside a Go module.
func parseSpec(s string) (pluginSpec, error) {
	sp := pluginSpec{raw: s}
	bad := func(reason string) (pluginSpec, error) {
		return pluginSpec{}, &PluginError{Spec: s, Reason: reason}
	}
	if strings.TrimSpace(s) == "" {
		return bad("empty plugin name")
	}
	if isLocalSpec(s) {
		return parseLocalSpec(s)
	}
	p, v, hasVersion := strings.Cut(s, "@")
	if err := module.CheckImportPath(p); err != nil {
		return bad("not a valid import path: " + pathReason(err))
	}
	if hasVersion {
		if err := checkVersion(v); err != nil {
			return bad(err.Error())
		}
	}
	sp.importPath, sp.version = p, v
	return sp, nil
}

// pathReason returns what golang.org/x/mod/module says is wrong with a
// path, without repeating the path.
func pathReason(err error) string {
	var ipe *module.InvalidPathError
	if errors.As(err, &ipe) && ipe.Err != nil {
		return ipe.Err.Error()
	}
	return err.Error()
}

func checkVersion(v string) error {
	switch {
	case v == "latest", v == "upgrade", v == "patch":
		return nil
	case semver.IsValid(v) && strings.HasPrefix(v, "v"):
		if semver.Canonical(v) != v && semver.Build(v) == "" {
			return &versionError{v, "use the full semantic version, as in " + semver.Canonical(v)}
		}
		return nil
	case commitRE.MatchString(v):
		return nil
	}
	return &versionError{v, `want a semantic version such as v1.2.3, a pseudo-version, a commit hash, or "latest"`}
}

type versionError struct{ v, hint string }

func (e *versionError) Error() string { return "invalid version " + strconv.Quote(e.v) + ": " + e.hint }

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
				return bad("module path in " + filepath.Join(root, "go.mod") + " is not valid: " + pathReason(err))
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
				return bad("directory does not give a valid import path: " + pathReason(err))
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
