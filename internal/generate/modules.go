package generate

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/modcache"
)

// The modules part is a module cache (GOMODCACHE) tree holding what the go
// command needs to load the host's whole module graph and to build any
// package of the modules the host builds with, offline:
//
//   - the go.mod of every module version the graph names: those the go
//     command reads for go list -m all, and those go.sum has /go.mod lines
//     for (an install whose plugins change the graph reads them);
//   - the .info of every module of the build list;
//   - for every module that provides the host a package, on any target,
//     what builds each of its packages, for every target (gosrc), with
//     its .ziphash, which the go command checks against go.sum.
//
// They are found by running the go command with an empty module cache,
// filled from the user's module cache first and their GOPROXY after.

// modCache is the scratch module cache that the modules part is read from.
func (g *gen) modCache() string { return filepath.Join(g.tmp, "mod") }

// scratchGo returns the go command with the scratch module cache, the
// given GOPROXY, and the host's go.mod read-only.
func (g *gen) scratchGo(proxy string) gocmd.Go {
	env := append(gocmd.Without(os.Environ(), "GOMODCACHE", "GOPROXY", "GOFLAGS", "GOWORK"),
		"GOMODCACHE="+g.modCache(), "GOPROXY="+proxy, "GOFLAGS=-mod=readonly -modcacherw", "GOWORK=off")
	c := g.goCmd
	c.Dir, c.Env = g.host.modDir, env
	return c
}

// onlineGo is scratchGo with the vendor's module cache as the first proxy,
// then the vendor's GOPROXY.
func (g *gen) onlineGo() gocmd.Go {
	proxy := fileURL(filepath.Join(g.env.GOMODCACHE, "cache", "download"))
	if g.env.GOPROXY != "" && g.env.GOPROXY != "off" {
		proxy += "," + g.env.GOPROXY
	}
	return g.scratchGo(proxy)
}

// moduleFiles fills the scratch module cache and lists the modules part.
func (g *gen) moduleFiles(ctx context.Context) ([]bundle.File, error) {
	providers, err := g.download(ctx, g.onlineGo())
	if err != nil {
		return nil, fmt.Errorf("collecting the host's modules: %w", err)
	}
	files, err := g.graphFiles()
	if err != nil {
		return nil, err
	}
	if len(providers) > 0 {
		var patterns []string
		for _, p := range providers {
			patterns = append(patterns, p+"/...")
		}
		// Offline: packages of these modules that import modules the host
		// does not build with are carried, but not their imports.
		paths, err := g.listFiles(ctx, g.scratchGo("off"), patterns)
		if err != nil {
			return nil, fmt.Errorf("listing the packages of the host's modules: %w", err)
		}
		for _, p := range paths {
			f, err := modcache.Named(g.modCache(), p)
			if err != nil {
				return nil, err
			}
			files = append(files, f)
		}
	}
	return dedup(files), nil
}

// download runs the go command over the host's graph with the scratch
// module cache: the packages of the main package for each target (which
// extracts the modules that provide them, and those that might: see
// shadowing), go list -m all (which reads the go.mod of every version the
// graph needs), and go list -m for each go.sum /go.mod line the cache
// still lacks. It returns the modules whose packages the bundle carries:
// those that provide packages, and those that might, but the host's and
// the replaced ones.
func (g *gen) download(ctx context.Context, c gocmd.Go) ([]string, error) {
	providers, imports := map[string]bool{}, map[string]bool{}
	for _, env := range g.targetEnvs() {
		tc := c
		tc.Env = append(slices.Clone(c.Env), env...)
		out, err := tc.Run(ctx, "list", "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{if not .Main}}{{if not .Replace}}{{.Path}}{{else if .Replace.Version}}{{.Path}}{{end}}{{end}}{{end}}", "--", g.host.mainPkg)
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Fields(line)
			if len(f) == 2 {
				providers[f[1]] = true
				imports[f[0]] = true
			}
		}
	}
	if _, err := c.Run(ctx, "list", "-m", "all"); err != nil {
		return nil, err
	}
	if missing := g.missingGoMods(); len(missing) > 0 {
		if _, err := c.Run(ctx, append([]string{"list", "-m", "-e", "--"}, missing...)...); err != nil {
			return nil, err
		}
	}
	for _, m := range shadowing(g.host.buildList, imports) {
		providers[m] = true
	}
	return slices.Sorted(maps.Keys(providers)), nil
}

// shadowing returns the modules of the build list (go list -m all lines)
// whose path is a prefix of an imported package's without providing it:
// github.com/dlclark/regexp2 for the package github.com/dlclark/regexp2/v2
// of the module of that path, cloud.google.com/go for
// cloud.google.com/go/storage. The go command reads their source to check
// that they do not provide the package too, so an offline build needs it.
func shadowing(buildList []string, imports map[string]bool) []string {
	var out []string
	for _, line := range buildList[1:] {
		f := strings.Fields(line)
		if len(f) < 2 || len(f) == 4 { // a directory replacement: carried as source
			continue
		}
		for imp := range imports {
			if strings.HasPrefix(imp, f[0]+"/") {
				out = append(out, f[0])
				break
			}
		}
	}
	return out
}

// missingGoMods returns, as path@version, the go.sum /go.mod lines of the
// host whose go.mod the scratch cache lacks.
func (g *gen) missingGoMods() []string {
	data, _ := os.ReadFile(filepath.Join(g.host.modDir, "go.sum"))
	var missing []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || !strings.HasSuffix(f[1], "/go.mod") {
			continue
		}
		mv := module.Version{Path: f[0], Version: strings.TrimSuffix(f[1], "/go.mod")}
		if files, _ := modcache.Meta(g.modCache(), mv, ".mod"); len(files) == 0 {
			missing = append(missing, mv.String())
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(missing)))
}

// graphFiles lists the .mod, .info and .ziphash files of the scratch
// cache's cache/download: what the go command fetched to load the graph.
// They are chosen by type, then by extension: module paths are domains,
// and a path element may end in .info or .mod.
func (g *gen) graphFiles() ([]bundle.File, error) {
	var files []bundle.File
	download := filepath.Join(g.modCache(), "cache", "download")
	err := filepath.WalkDir(download, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "sumdb" && filepath.Dir(p) == download {
			return filepath.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil // a directory named like a file: a module path element such as go.augendre.info
		}
		switch filepath.Ext(p) {
		case ".mod", ".info", ".ziphash":
			f, err := modcache.Named(g.modCache(), p)
			files = append(files, f)
			return err
		}
		return nil
	})
	if os.IsNotExist(err) {
		return nil, nil
	}
	return files, err
}

func dedup(files []bundle.File) []bundle.File {
	sortFiles(files)
	return slices.CompactFunc(files, func(a, b bundle.File) bool { return a.Name == b.Name })
}

func sortFiles(files []bundle.File) {
	slices.SortFunc(files, func(a, b bundle.File) int { return strings.Compare(a.Name, b.Name) })
}

// fileURL returns a file:// URL for the directory dir.
func fileURL(dir string) string {
	p := filepath.ToSlash(dir)
	if !strings.HasPrefix(p, "/") {
		p = "/" + p // Windows: file:///C:/...
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}
