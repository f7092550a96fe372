package selfcompile

// What the go command's errors mean: which plugin a failure belongs to, a
// module only the network has, a C compiler that failed, a full disk, a
// plugin's replace directive that is not followed.

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/cachetree"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/modcache"
)

// goError makes a failed go build a typed error: a full disk is
// ErrNoSpace; anything else a *BuildError, attributed as attributeError
// does.
func (res *resolution) goError(err error) error {
	var ge *gocmd.Error
	if !errors.As(err, &ge) {
		return err
	}
	if line, path, ok := noSpaceLine(ge.Output); ok {
		dir := res.diskOf(path)
		return newSpaceError(dir, err, line, dir == res.cache)
	}
	if mv, ok := mismatched(ge.Output); ok && res.dirs != nil {
		return res.mismatchError(ge, mv)
	}
	return attributeError(ge, res.plugins, cCompilerMarks())
}

// checksumMismatch matches the go command's report of a module version
// whose files or go.mod do not match go.sum ("verifying
// example.com/m@v1.0.0: checksum mismatch", or ".../go.mod: checksum
// mismatch") or the checksum database ("example.com/m@v1.0.0: verifying
// module: checksum mismatch").
var checksumMismatch = regexp.MustCompile(`verifying ([^\s@:]+)@([^\s@:/]+)(?:/go\.mod)?: checksum mismatch|([^\s@:]+)@([^\s@:/]+): verifying (?:module|go\.mod): checksum mismatch`)

// mismatched returns the module version that the go command's output
// reports a checksum mismatch for.
func mismatched(out string) (module.Version, bool) {
	m := checksumMismatch.FindStringSubmatch(out)
	if m == nil {
		return module.Version{}, false
	}
	return module.Version{Path: m[1] + m[3], Version: m[2] + m[4]}, true
}

// mismatchError is the failure of a go command that found a module
// version's files not to match go.sum or the checksum database. The files
// it found came from the module cache (where a program's bundle or an
// earlier download put them) or from the module proxy just now: they are
// removed from the module cache, so that the next try downloads them
// again, and the markers of merged bundles are forgotten, so that a bundle
// that carries them merges them again.
func (res *resolution) mismatchError(ge *gocmd.Error, mv module.Version) error {
	modcache.Discard(res.dirs.modcache, mv)
	cachetree.ForgetMerged(res.dirs.modcache)
	return &BuildError{
		Step:    "go " + ge.Args[0],
		Plugins: mentioned(ge.Output, res.plugins),
		Cause: fmt.Sprintf("the files of %s that the go command found (in the module cache %s, or just downloaded from the module proxy) do not match go.sum or the checksum database; they were removed from the module cache: try again, and if it fails the same way, the module proxy serves files of %s that do not match",
			mv, res.dirs.modcache, mv),
		Output: ge.Output,
	}
}

// mentioned returns the plugins whose packages or module the go command's
// output names.
func mentioned(out string, plugins []pluginSpec) []string {
	var names []string
	for _, p := range plugins {
		if mentions(out, p.importPath) || mentions(out, cmp.Or(p.modulePath, p.importPath)) {
			names = append(names, p.raw)
		}
	}
	return names
}

// resolveError makes a failed go get, go list or go list -m a typed error:
// a *NetworkError when a module could only come from the network, else
// as goError does; a failure about a module that a plugin's go.mod
// replaces says that replace directives are not followed.
func (res *resolution) resolveError(err error) error {
	var ge *gocmd.Error
	if !errors.As(err, &ge) {
		return err
	}
	if ps := privateError(ge.Output, res.plugins); ps != nil {
		return ps
	}
	if nf := notFoundError(ge.Output, res.plugins); nf != nil {
		return res.withReplaceHint(nf)
	}
	if ne := networkError(ge.Output, res.plugins); ne != nil {
		return res.withReplaceHint(ne)
	}
	return res.withReplaceHint(res.goError(err))
}

// attributeError makes a failed go command a typed error. A failure that
// the output blames on packages of one plugin is that plugin's; a failure
// of the C compiler (whose output has one of ccMarks) says so; go get and
// go list failures that name one plugin are a *PluginError for it.
func attributeError(ge *gocmd.Error, plugins []pluginSpec, ccMarks []string) error {
	be := &BuildError{Step: "go " + ge.Args[0], Output: ge.Output, Plugins: mentioned(ge.Output, plugins)}
	failed := failedPackages(ge.Output)
	if slices.ContainsFunc(ccMarks, func(m string) bool { return m != "" && strings.Contains(ge.Output, m) }) {
		be.Cause = fmt.Sprintf("the C compiler (%s) failed building %s; install a working C compiler or set CC to one", cmp.Or(cCompiler(), os.Getenv("CC"), "none found"), strings.Join(failed, ", "))
		be.Plugins = slices.DeleteFunc(be.Plugins, func(p string) bool { return !blamed(p, plugins, failed) })
	}
	if be.Step != "go build" && len(be.Plugins) == 1 {
		return &PluginError{Spec: be.Plugins[0], Reason: strings.TrimSpace(ge.Output)}
	}
	return be
}

// failedPackages returns the packages the go command's output reports
// errors for, from its "# import/path" lines.
func failedPackages(out string) []string {
	var pkgs []string
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "# "); ok && !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	return pkgs
}

// blamed reports whether one of the failed packages belongs to the plugin
// given as raw.
func blamed(raw string, plugins []pluginSpec, failed []string) bool {
	for _, p := range plugins {
		if p.raw != raw {
			continue
		}
		for _, f := range failed {
			if f == p.importPath || strings.HasPrefix(f, cmp.Or(p.modulePath, p.importPath)+"/") {
				return true
			}
		}
	}
	return false
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

// noSpaceRE matches a line of the go command's output that says a disk is
// full ("write /c/build/ab/abcd-d: no space left on device"; on Windows,
// "...: There is not enough space on the disk."), and the path it names.
var noSpaceRE = regexp.MustCompile(`(?m)^.*?(?:(\S+): )?(?:no space left on device|(?:There is )?not enough space on the disk).*$`)

// noSpaceLine returns the first line of the go command's output that says
// a disk is full, and the path it names ("" if none).
func noSpaceLine(out string) (line, path string, ok bool) {
	m := noSpaceRE.FindStringSubmatch(out)
	if m == nil {
		return "", "", false
	}
	return strings.TrimSpace(m[0]), m[1], true
}

// diskOf returns the directory of the install whose disk holds path, as a
// person knows it: the cache (the go command's temporary files are in the
// workdir, under it), the executable's directory (the new binary is built
// beside it), or else path's nearest existing parent; the cache when path
// is not an absolute one.
func (res *resolution) diskOf(path string) string {
	switch {
	case !filepath.IsAbs(path):
		return res.cache
	case fsutil.Within(path, res.cache):
		return res.cache
	case res.bin != nil && fsutil.Within(path, filepath.Dir(res.bin.Path)):
		return filepath.Dir(res.bin.Path)
	}
	for dir := filepath.Dir(path); ; dir = filepath.Dir(dir) {
		if fsutil.IsDir(dir) || dir == filepath.Dir(dir) {
			return dir
		}
	}
}

// networkFailure matches, in the go command's output, a module it could
// not get: "go: example.com/m@v1.2.3: module lookup disabled by
// GOPROXY=off", "go: example.com/m@upgrade: module lookup disabled ...",
// or "example.com/a@v1.0.0 requires example.com/m@v1.2.3: reading
// https://...: dial tcp: ...".
var networkFailure = regexp.MustCompile(`([^\s@:]*[./][^\s@:]*)(?:@([^\s:@]+))?: ((?:module lookup disabled|reading https?:|Get "?https?:|dial tcp|[^\n]*(?:no such host|connection refused|network is unreachable|i/o timeout|TLS handshake))[^\n]*)`)

// proxyNotFound matches, in the go command's output, a module proxy's
// answer that it has no such module or version: "go: example.com/m@v1.2.3:
// reading https://proxy.golang.org/example.com/m/@v/v1.2.3.info: 404 Not
// Found", "go: module example.com/m: reading .../@v/list: 410 Gone", or
// "go: example.com/m@latest: no matching versions for query "latest"".
// The network answered: connecting to it changes nothing, and the server
// response that follows may quote the proxy's own failures to reach a
// repository ("dial tcp: lookup ...: no such host").
var proxyNotFound = regexp.MustCompile(`([^\s@:]*[./][^\s@:]*)(?:@([^\s:@]+))?: (?:module [^\s:]+: )?((?:reading \S+: (?:404|410)\b|no matching versions for query)[^\n]*)`)

// sumdbNotFound matches, in the go command's output, the checksum
// database's answer that it has no record of a module version: "verifying
// module: example.com/m@v1.0.0: reading
// https://sum.golang.org/lookup/example.com/m@v1.0.0: 404 Not Found" (or
// 410 Gone). A module it cannot see is a private one, or one published
// where it does not look: the network answered, and the fix is the user's
// GOPRIVATE or GONOSUMDB.
var sumdbNotFound = regexp.MustCompile(`verifying (?:module|go\.mod): ([^\s@:]+)@([^\s@:/]+)(?:/go\.mod)?: reading \S+/lookup/\S+: (?:404|410)\b`)

// privateError returns the *PluginError for a go command output that says
// the checksum database has no record of a module (sumdbNotFound), naming
// the new plugins that need it; nil if it does not say so.
func privateError(out string, plugins []pluginSpec) error {
	m := sumdbNotFound.FindStringSubmatch(out)
	if m == nil {
		return nil
	}
	mod := m[1] + "@" + m[2]
	return &PluginError{Spec: cmp.Or(strings.Join(needers(out, plugins), ", "), mod), Reason: fmt.Sprintf(
		"the checksum database (GOSUMDB) has no record of %s, so its files cannot be checked: if it is a private module, set GOPRIVATE (or GONOSUMDB) to its path, as in GOPRIVATE=%s, and try again", mod, m[1])}
}

// needsNetwork reports whether a go command error is about a module it
// could only get from the network.
func needsNetwork(msg string) bool {
	if proxyNotFound.MatchString(msg) {
		return false
	}
	return strings.Contains(msg, "module lookup disabled") || networkFailure.MatchString(msg)
}

// notFoundError returns the *PluginError for a go command output that
// says the module proxy has no such module or version (proxyNotFound),
// naming the new plugins that need it; nil if it does not say so.
func notFoundError(out string, plugins []pluginSpec) error {
	m := proxyNotFound.FindAllStringSubmatch(out, -1)
	if m == nil {
		return nil
	}
	last := m[len(m)-1]
	mod := last[1]
	if last[2] != "" {
		mod += "@" + last[2]
	}
	return &PluginError{Spec: cmp.Or(strings.Join(needers(out, plugins), ", "), mod), Reason: fmt.Sprintf("the module proxy has no %s (%s): check the import path and the version, or set GOPROXY to a proxy that has it", mod, strings.TrimSpace(last[3]))}
}

// networkError returns the *NetworkError that the go command's output
// shows, naming the new plugins it mentions (all the new ones when it
// mentions none), or nil.
func networkError(out string, plugins []pluginSpec) *NetworkError {
	m := networkFailure.FindAllStringSubmatch(out, -1)
	if m == nil || proxyNotFound.MatchString(out) {
		return nil
	}
	last := m[len(m)-1]
	return &NetworkError{Plugins: needers(out, plugins), Module: last[1], Version: cmp.Or(last[2], "latest"), Reason: strings.TrimSpace(last[3])}
}

// needers returns the new plugins that the go command's output mentions,
// as given; all the new ones when it mentions none.
func needers(out string, plugins []pluginSpec) []string {
	var all, mentioned []string
	for _, p := range plugins {
		if !p.isNew {
			continue
		}
		all = append(all, p.raw)
		if mentions(out, p.importPath) || mentions(out, cmp.Or(p.modulePath, p.importPath)) {
			mentioned = append(mentioned, p.raw)
		}
	}
	if len(mentioned) == 0 {
		return all
	}
	return mentioned
}

// newPlugins returns the plugins being added or upgraded, as given.
func (res *resolution) newPlugins() []string {
	var out []string
	for _, p := range res.plugins {
		if p.isNew {
			out = append(out, p.raw)
		}
	}
	return out
}

// withReplaceHint adds to a resolve failure about a module that a new
// plugin's go.mod replaces that replace directives are not followed: only
// the main module's go.mod may replace modules, and a plugin is not the
// main module. The failure stays the cause.
func (res *resolution) withReplaceHint(err error) error {
	for _, p := range res.plugins {
		if !p.isNew {
			continue
		}
		for _, m := range append(p.replaced, res.moduleReplaces(p)...) {
			if mentions(err.Error(), m) {
				return &PluginError{Spec: p.raw, Err: err, Reason: fmt.Sprintf("its go.mod replaces %s, and replace directives are not followed when it is installed as a plugin (only a program's own go.mod replaces modules): publish the replaced module, or remove the replace line and require a published version", m)}
			}
		}
	}
	return err
}

// moduleReplaces returns the modules that the go.mod of a plugin given as
// a module version replaces: the go.mod files the go command fetched into
// the module cache for the plugin's module, whichever prefix of its import
// path that is.
func (res *resolution) moduleReplaces(p pluginSpec) []string {
	if p.moduleDir != "" || res.dirs == nil {
		return nil
	}
	var out []string
	for mod := p.importPath; mod != "." && mod != "/"; mod = path.Dir(mod) {
		esc, err := module.EscapePath(mod)
		if err != nil {
			continue
		}
		mods, _ := filepath.Glob(filepath.Join(res.dirs.modcache, "cache", "download", filepath.FromSlash(esc), "@v", "*.mod"))
		for _, f := range mods {
			if v := strings.TrimSuffix(filepath.Base(f), ".mod"); p.version == "" || !strings.HasPrefix(p.version, "v") || v == p.version {
				out = append(out, replacedModules(f)...)
			}
		}
	}
	return out
}
