package selfcompile

// Version queries of the plugins a change adds or upgrades by module
// version ("path@v1.2.0", "@latest", "@upgrade", a commit), resolved to
// the module versions that provide their packages without loading any
// package. go get would load the imports of what it adds for every build
// tag; the bundle carries the host's modules trimmed to the packages its
// targets build, so go get would find packages of other platforms missing,
// look them up at latest, and move host modules that nothing asked to
// move. What the plugins import is loaded by go list, for this build.

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/gosrc"
)

// queried is what go list -m -e -json reports of a module version query.
type queried struct {
	Path, Version string
	Error         *struct{ Err string }
}

// queryPlugins resolves the version query of each plugin in ps to the
// module version that provides its package, relative to the build list of
// the go.mod as it is ("upgrade" never lowers what it requires), in one go
// list -m.
func (res *resolution) queryPlugins(ctx context.Context, ps []pluginSpec) ([]module.Version, error) {
	main := res.bin.Shared.Manifest.MainModule
	cands := make([][]string, len(ps))
	var args []string
	for i, p := range ps {
		if cands[i] = moduleCandidates(p, main); len(cands[i]) == 0 {
			return nil, &PluginError{Spec: p.raw, Reason: "no module path could provide it"}
		}
		for _, c := range cands[i] {
			args = append(args, c+"@"+p.version)
		}
	}
	out, err := res.g.Run(ctx, append([]string{"list", "-m", "-e", "-json", "--"}, args...)...)
	if err != nil {
		return nil, res.resolveError(err)
	}
	results, err := gosrc.DecodeAll[queried](out)
	if err != nil {
		return nil, err
	}
	if len(results) != len(args) {
		return nil, fmt.Errorf("go list -m reported %d modules for %d queries", len(results), len(args))
	}
	chosen := make([]module.Version, len(ps))
	for i, p := range ps {
		mine := results[:len(cands[i])]
		results = results[len(cands[i]):]
		var found []module.Version
		for _, r := range mine {
			if v, ok := retractedCurrent(r, p.version); ok {
				found = append(found, module.Version{Path: r.Path, Version: v})
			} else if r.Error == nil {
				found = append(found, module.Version{Path: r.Path, Version: r.Version})
			}
		}
		if len(found) == 0 {
			return nil, queryError(p, cands[i], mine)
		}
		if chosen[i], err = res.provider(ctx, p, found); err != nil {
			return nil, err
		}
	}
	return chosen, nil
}

// retractedMark matches the error of go list -m for an upgrade query whose
// answer is the version that the build list has, retracted by its author.
var retractedMark = regexp.MustCompile(`^(\S+)@(\S+): retracted by module author`)

// retractedCurrent returns the version that an upgrade (or patch) query
// keeps, as go get keeps it, when it is the one the build list has and
// its author retracted it: go list -m reports that as an error.
func retractedCurrent(r queried, query string) (string, bool) {
	if r.Error == nil || query != "upgrade" && query != "patch" {
		return "", false
	}
	m := retractedMark.FindStringSubmatch(r.Error.Err)
	if m == nil || m[1] != r.Path {
		return "", false
	}
	return m[2], true
}

// moduleCandidates returns the modules that may provide a plugin's
// package, longest path first: the one the catalog or the binary's record
// names, or else, as go get asks, every prefix of its import path that is
// a module path but the host module's, whose version is the program's own.
func moduleCandidates(p pluginSpec, main string) []string {
	if p.modulePath != "" {
		return []string{p.modulePath}
	}
	var out []string
	for path := p.importPath; ; {
		if path != main && module.CheckPath(path) == nil {
			out = append(out, path)
		}
		i := strings.LastIndex(path, "/")
		if i < 0 {
			return out
		}
		path = path[:i]
	}
}

// provider chooses, among the module versions found for a plugin's query,
// the one that provides its package: as go get does, the longest path
// whose files have it. Only when several are found are their files
// fetched to tell; when none has it, go list says so.
func (res *resolution) provider(ctx context.Context, p pluginSpec, found []module.Version) (module.Version, error) {
	if len(found) == 1 {
		return found[0], nil
	}
	args := []string{"mod", "download", "-json", "--"}
	for _, m := range found {
		args = append(args, m.String())
	}
	out, err := res.g.Run(ctx, args...)
	if err != nil {
		return module.Version{}, res.resolveError(err)
	}
	dirs, err := gosrc.DecodeAll[struct{ Path, Version, Dir string }](out)
	if err != nil {
		return module.Version{}, err
	}
	for _, d := range dirs {
		rel := strings.TrimPrefix(strings.TrimPrefix(p.importPath, d.Path), "/")
		if d.Dir != "" && hasGoFiles(filepath.Join(d.Dir, filepath.FromSlash(rel))) {
			return module.Version{Path: d.Path, Version: d.Version}, nil
		}
	}
	return found[0], nil
}

// queryError is the error of a plugin whose query no candidate module
// answered: the most telling of their errors, that of the longest path
// that is not merely absent, as the go command chooses; a *NetworkError
// if it says that only the network has the module.
func queryError(p pluginSpec, cands []string, results []queried) error {
	best := 0
	for i, r := range results {
		if !absent(r.Error.Err) {
			best = i
			break
		}
	}
	msg := strings.TrimSpace(results[best].Error.Err)
	if needsNetwork(msg) {
		return &NetworkError{Plugins: []string{p.raw}, Module: cands[best], Version: p.version, Reason: msg}
	}
	return &PluginError{Spec: p.raw, Reason: msg}
}

// absent reports whether a module query failed because the proxy has no
// such module.
func absent(msg string) bool {
	m := strings.ToLower(msg)
	return strings.Contains(m, "not found") || strings.Contains(m, "410 gone") || strings.Contains(m, "no such file or directory")
}
