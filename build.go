package selfcompile

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/semver"
)

// goTool runs the bundled go command in a hermetic environment.
type goTool struct {
	bin string   // the go binary
	dir string   // working directory: the host's module root
	env []string // full environment
}

// run runs the go command and returns its standard output. A failure is a
// *BuildError naming the command, with what the command printed; its
// Plugins are left for the caller.
func (g *goTool) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, g.bin, args...)
	cmd.Dir = g.dir
	cmd.Env = g.env
	cmd.SysProcAttr = childAttr()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		text := stderr.String() + stdout.String()
		if text == "" {
			text = err.Error()
		}
		return nil, &BuildError{Step: "go " + args[0], Output: text}
	}
	return stdout.Bytes(), nil
}

// userGoVars are the go environment variables a user sets for their
// network and privacy, which the inner go command honours. Every other GO*
// and CGO_* variable of the user's environment is dropped.
var userGoVars = []string{"GOPRIVATE", "GONOPROXY", "GONOSUMDB", "GOSUMDB", "GOINSECURE", "GOAUTH", "GOVCS"}

const defaultGOPROXY = "https://proxy.golang.org,direct"

// fileURL returns a file:// URL for the directory dir.
func fileURL(dir string) string {
	p := filepath.ToSlash(dir)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// newGoTool prepares the go command of the restored toolchain: GOTOOLCHAIN,
// GOWORK, GOENV and GOFLAGS are ours; the module cache holds the bundled
// modules, so the go command finds them before it asks the user's GOPROXY
// (which may be off); the build cache persists, shared by every host
// program, and the module cache persists per host program; and the target settings
// recorded in the installed binary (GOOS, GOARCH, GOAMD64, CGO_*, ...) are
// reproduced.
func newGoTool(r *restored, bi *debug.BuildInfo) *goTool {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if (strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "CGO_")) && !slices.Contains(userGoVars, k) {
			continue
		}
		env = append(env, kv)
	}
	proxy := cmpOr(os.Getenv("GOPROXY"), defaultGOPROXY)
	env = append(env,
		"GOROOT="+r.goroot,
		"GOTOOLCHAIN=local",
		"GOWORK=off",
		"GOENV=off",
		"GOFLAGS=-buildvcs=false",
		"GOPROXY="+proxy,
		"GOCACHE="+r.gocache,
		"GOMODCACHE="+r.modcache,
		"GOPATH="+filepath.Join(r.hostDir, "path"),
	)
	env = append(env, settingsEnv(bi)...)
	return &goTool{bin: filepath.Join(r.goroot, "bin", "go"+exeSuffix()), dir: r.src, env: env}
}

// hostKey names a host program's cache directory: the last element of its
// main package path and a short hash of the whole path.
func hostKey(mainPkg string) string {
	return filepath.Base(mainPkg) + "-" + shortHash(mainPkg)
}

// settingsEnv returns the environment that reproduces the target settings
// a binary was built with. A binary built with cgo is rebuilt with cgo only
// where a C compiler is found; otherwise cgo is turned off, which the go
// command would do by itself on such a machine.
func settingsEnv(bi *debug.BuildInfo) []string {
	var env []string
	if bi == nil {
		return nil
	}
	for _, s := range bi.Settings {
		k, v := s.Key, s.Value
		switch {
		case k == "CGO_ENABLED":
			if v == "1" && !haveCC() {
				v = "0"
			}
			env = append(env, k+"="+v)
		case strings.HasPrefix(k, "CGO_"), k == "GOOS", k == "GOARCH", k == "GOEXPERIMENT", k == "GOFIPS140":
			env = append(env, k+"="+v)
		case strings.HasPrefix(k, "GO") && strings.ToUpper(k) == k: // GOAMD64, GOARM, GO386, ...
			env = append(env, k+"="+v)
		}
	}
	return env
}

func haveCC() bool {
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	if _, err := exec.LookPath(strings.Fields(cc + " x")[0]); err == nil {
		return true
	}
	_, err := exec.LookPath("clang")
	return err == nil
}

// buildFlags returns the go build flags that reproduce the flags a binary
// was built with. Go leaves -ldflags out of the build info of a -trimpath
// build (golang/go#63432), so ldflags, when set, replaces whatever the
// build info has.
func buildFlags(bi *debug.BuildInfo, ldflags string) []string {
	flags := []string{"-trimpath", "-mod=mod"}
	if bi != nil {
		for _, s := range bi.Settings {
			switch k, v := s.Key, s.Value; k {
			case "-buildmode", "-compiler":
				// Build info records the defaults too, but passing them
				// changes the link action ID, and so the binary's build ID.
				if v != "exe" && v != "gc" {
					flags = append(flags, k+"="+v)
				}
			case "-gcflags", "-asmflags", "-tags":
				flags = append(flags, k+"="+v)
			case "-ldflags":
				if ldflags == "" {
					ldflags = v
				}
			case "-race", "-msan", "-asan":
				if v == "true" {
					flags = append(flags, k)
				}
			}
		}
	}
	if ldflags != "" {
		flags = append(flags, "-ldflags="+ldflags)
	}
	return flags
}

// localVersion is the version a module replaced by a local directory is
// required at.
const localVersion = "v0.0.0-00010101000000-000000000000"

// listedPackage is what go list reports of a plugin package.
type listedPackage struct {
	ImportPath string
	Name       string
	Standard   bool
	Module     *struct {
		Path    string
		Version string
		Main    bool
		Replace *struct{ Path, Version, Dir string }
	}
	Error *struct{ Err string }
}

// resolvePlugins makes the restored module provide every plugin: local
// directories through a replace, versioned specs through go get, the rest
// through the build list (or the proxy, for a new module). It returns the
// plugins with their module and version, as the stub records them.
func (c *SelfCompile) resolvePlugins(ctx context.Context, g *goTool, r *restored, plugins []pluginSpec) ([]PluginInfo, error) {
	gomod := filepath.Join(r.src, "go.mod")
	data, err := os.ReadFile(gomod)
	if err != nil {
		return nil, fmt.Errorf("selfcompile: the host source has no go.mod: %w", err)
	}
	f, err := modfile.Parse(gomod, data, nil)
	if err != nil {
		return nil, err
	}
	var get []string
	for _, p := range plugins {
		switch {
		case p.moduleDir != "":
			rel, err := filepath.Rel(r.src, p.moduleDir)
			if err != nil {
				return nil, err
			}
			if err := f.AddRequire(p.modulePath, localVersion); err != nil {
				return nil, err
			}
			if err := f.AddReplace(p.modulePath, "", filepath.ToSlash(rel), ""); err != nil {
				return nil, err
			}
		case p.pinned:
			// Installed before: the recorded version, unless the host
			// already requires a higher one.
			if err := requireAtLeast(f, p.modulePath, p.version); err != nil {
				return nil, err
			}
		case p.version != "":
			get = append(get, p.importPath+"@"+p.version)
		}
	}
	f.Cleanup()
	if err := os.WriteFile(gomod, modfile.Format(f.Syntax), 0o644); err != nil {
		return nil, err
	}
	if len(get) > 0 {
		if _, err := g.run(ctx, append([]string{"get", "--"}, get...)...); err != nil {
			return nil, attributeError(err, plugins)
		}
	}

	args := []string{"list", "-mod=mod", "-e", "-json=ImportPath,Name,Standard,Module,Error", "--"}
	for _, p := range plugins {
		args = append(args, p.importPath)
	}
	listed, err := g.run(ctx, args...)
	if err != nil {
		return nil, attributeError(err, plugins)
	}
	dec := json.NewDecoder(bytes.NewReader(listed))
	byPath := map[string]listedPackage{}
	for dec.More() {
		var lp listedPackage
		if err := dec.Decode(&lp); err != nil {
			return nil, fmt.Errorf("selfcompile: reading go list output: %w", err)
		}
		byPath[lp.ImportPath] = lp
	}
	var infos []PluginInfo
	for _, p := range plugins {
		lp, ok := byPath[p.importPath]
		switch {
		case !ok:
			return nil, &PluginError{Spec: p.raw, Reason: "go list did not report it"}
		case lp.Error != nil:
			return nil, &PluginError{Spec: p.raw, Reason: strings.TrimSpace(lp.Error.Err)}
		case lp.Standard:
			return nil, &PluginError{Spec: p.raw, Reason: "it is a standard library package, not a plugin"}
		case lp.Name == "main":
			return nil, &PluginError{Spec: p.raw, Reason: "it is a main package (a program), not a plugin; a plugin is a library package that registers itself in init"}
		case lp.Module == nil:
			return nil, &PluginError{Spec: p.raw, Reason: "it is not provided by any module"}
		}
		info := PluginInfo{ImportPath: p.importPath, Module: lp.Module.Path, Version: lp.Module.Version}
		if p.moduleDir != "" {
			info.Version, info.Local = "", p.dir
		}
		if lp.Module.Main {
			info.Module, info.Version = "", ""
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// requireAtLeast makes f require path at version, or at the version it
// already requires if that is higher.
func requireAtLeast(f *modfile.File, path, version string) error {
	for _, r := range f.Require {
		if r.Mod.Path == path && semver.Compare(r.Mod.Version, version) >= 0 {
			return nil
		}
	}
	return f.AddRequire(path, version)
}

// attributeError names, in a *BuildError, the plugins whose packages or
// modules the go command's output mentions, or, when it mentions none, all
// of the plugins being added. A go get or go list failure that names one
// plugin becomes a *PluginError for it.
func attributeError(err error, plugins []pluginSpec) error {
	var be *BuildError
	if !errors.As(err, &be) {
		return err
	}
	var named, added []string
	for _, p := range plugins {
		mod := p.modulePath
		if mod == "" {
			mod = p.importPath
		}
		if mentions(be.Output, p.importPath) || mentions(be.Output, mod) {
			named = append(named, p.raw)
		}
		if p.isNew {
			added = append(added, p.raw)
		}
	}
	if be.Step != "go build" && len(named) == 1 {
		return &PluginError{Spec: named[0], Reason: strings.TrimSpace(be.Output)}
	}
	if len(named) == 0 {
		named = added
	}
	be.Plugins = named
	return be
}

// mentions reports whether the go command output names the package or
// module path as a whole word: "# path", "path:", "path@v", "path/...".
func mentions(out, path string) bool {
	for i := 0; ; {
		j := strings.Index(out[i:], path)
		if j < 0 {
			return false
		}
		j += i
		end := j + len(path)
		before := j == 0 || strings.ContainsRune(" \t\n\"'(", rune(out[j-1]))
		after := end == len(out) || strings.ContainsRune(" \t\n\"':@/.)", rune(out[end]))
		if before && after {
			return true
		}
		i = end
	}
}
