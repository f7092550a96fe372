package generate

import (
	"context"
	"fmt"
	"io/fs"
	"os"

	"path/filepath"
	"slices"
	"strings"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/cacheprog"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/stub"
	"github.com/shazow/go-selfcompile/internal/toolchain"
)

// toolchainFiles lists the toolchain part for a target: the go command's
// own GOROOT for its platform, else the golang.org/toolchain module of the
// same Go version for the target, downloaded through the user's module
// cache and GOPROXY, which the go command checks against the checksum
// database. Either is pruned to what building a program needs.
func (g *gen) toolchainFiles(ctx context.Context, target string) ([]bundle.File, error) {
	goos, goarch, _ := strings.Cut(target, "/")
	root := g.env.GOROOT
	if !g.native(target) {
		m, err := g.downloadToolchain(ctx, goos, goarch)
		if err != nil {
			return nil, err
		}
		root = m.Dir
	}
	return toolchain.Prune(root, goos, goarch, g.boring())
}

// boring reports whether the go command builds with boringcrypto.
func (g *gen) boring() bool {
	return slices.Contains(strings.Split(g.env.GOEXPERIMENT, ","), "boringcrypto")
}

// toolchainPin pins, for a program that fetches its toolchain through the
// module proxy, the golang.org/toolchain module of a target: its version,
// its h1: hash as the go command checked it against the checksum
// database, and the toolchain part that pruning it gives.
func (g *gen) toolchainPin(ctx context.Context, goos, goarch string) (*bundle.ToolchainModule, error) {
	m, err := g.downloadToolchain(ctx, goos, goarch)
	if err != nil {
		return nil, err
	}
	files, err := toolchain.Prune(m.Dir, goos, goarch, g.boring())
	if err != nil {
		return nil, err
	}
	part, err := bundle.DigestPart(bundle.PartFiles{Name: bundle.PartToolchain, Files: files})
	if err != nil {
		return nil, err
	}
	return &bundle.ToolchainModule{Version: m.Version, Sum: m.Sum, Boring: g.boring(), Part: part}, nil
}

// toolchainModule is a golang.org/toolchain module the go command
// downloaded.
type toolchainModule struct{ Version, Sum, Dir, Error string }

// downloadToolchain downloads the golang.org/toolchain module for a target
// into the user's module cache.
func (g *gen) downloadToolchain(ctx context.Context, goos, goarch string) (toolchainModule, error) {
	mod := bundle.ToolchainPath + "@v0.0.1-" + g.env.GOVERSION + "." + goos + "-" + goarch
	g.logf("Downloading %s", mod)
	c := g.goCmd
	c.Dir = g.tmp
	c.Env = append(gocmd.Without(os.Environ(), "GOFLAGS", "GOWORK"), "GOWORK=off")
	var m toolchainModule
	err := c.JSON(ctx, &m, "mod", "download", "-json", mod)
	if err != nil || m.Dir == "" || m.Sum == "" {
		return m, fmt.Errorf("no Go toolchain for %s/%s: go mod download %s: %v %s (the module proxy must serve golang.org/toolchain for this target; GOPROXY is %q)", goos, goarch, mod, err, m.Error, g.env.GOPROXY)
	}
	return m, nil
}

// warmFiles builds the host's dependencies for a target as an install
// will (-trimpath, the scratch module cache, no network; cgo off when
// cross-compiling, as a cross-built release records it) into an empty
// build cache, and lists what that cache then holds. The go command keys
// these entries by the toolchain's version, not its path or the platform
// it runs on, so entries made by cross-compiling are hits on the target.
// What the vendor's build cache holds already is copied from it, not
// compiled again (warmCacheEnv).
func (g *gen) warmFiles(ctx context.Context, target string) ([]bundle.File, error) {
	goos, goarch, _ := strings.Cut(target, "/")
	gocache := filepath.Join(g.tmp, "gocache-"+goos+"-"+goarch)
	c := g.scratchGo("off")
	c.Env = append(gocmd.Without(c.Env, "GOFLAGS", "GOOS", "GOARCH"), "GOFLAGS=-mod=mod -buildvcs=false", "GOOS="+goos, "GOARCH="+goarch)
	if !g.native(target) {
		c.Env = append(gocmd.Without(c.Env, "CGO_ENABLED"), "CGO_ENABLED=0")
	}
	// What the stub imports, which may not be written yet, besides the main
	// package's imports.
	out, err := c.Run(ctx, "list", "-e", "-deps", "-f", "{{if ne .ImportPath \""+g.host.mainPkg+"\"}}{{.ImportPath}}{{end}}", "--", g.host.mainPkg, "embed", stub.HookPath)
	if err != nil {
		return nil, fmt.Errorf("listing the host's dependencies for %s: %w", target, err)
	}
	var deps []string
	for _, p := range strings.Fields(string(out)) {
		if p != stub.BundleImportPath(g.host.mainPkg) { // its bundles are being made
			deps = append(deps, p)
		}
	}
	g.logf("Building %d packages for %s for the warm cache", len(deps), target)
	c.Env = g.warmCacheEnv(c.Env, gocache)
	if err := g.buildWarm(ctx, c, deps); err != nil {
		return nil, fmt.Errorf("building the host's dependencies for %s for the warm cache: %w", target, err)
	}
	var files []bundle.File
	err = filepath.WalkDir(gocache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && filepath.Dir(p) == gocache && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir // the go-between's temporary files
		}
		if err != nil || d.IsDir() || !d.Type().IsRegular() || filepath.Dir(p) == gocache { // README, trim.txt
			return err
		}
		rel, _ := filepath.Rel(gocache, p)
		files = append(files, bundle.File{Name: filepath.ToSlash(rel), Src: p})
		return nil
	})
	sortFiles(files)
	return files, err
}

// buildWarm builds deps and says how many of them came from the vendor's
// build cache.
func (g *gen) buildWarm(ctx context.Context, c gocmd.Go, deps []string) error {
	compiled, listed := 0, map[string]bool{}
	for _, p := range deps {
		listed[p] = true
	}
	count := func(line string) { // -v names each package it compiles, not those it finds in a cache
		if listed[line] {
			compiled++
		}
	}
	if _, err := c.Stream(ctx, count, append([]string{"build", "-v", "-trimpath", "--"}, deps...)...); err != nil {
		return err
	}
	g.logf("Compiled %d of them; %d came from the build cache", compiled, len(deps)-compiled)
	if note, err := os.ReadFile(g.cacheNote()); err == nil {
		g.logf("The shared build cache (GOCACHEPROG) was left for the rest of the build: %s", strings.TrimSpace(string(note)))
	}
	return nil
}

// warmCacheEnv sets the build cache of a warm cache build to gocache,
// empty at first. Where it can (Options.CacheProg, not on Windows), the
// generator stands between the go command and gocache, as package
// cacheprog does for installs, with the vendor's build cache as a seed and
// the vendor's GOCACHEPROG, if any, as the shared cache: what they hold
// is copied into gocache, checked to be what it claims, and the rest is
// compiled. The trust is the vendor's own: the same build cache builds the
// release.
func (g *gen) warmCacheEnv(env []string, gocache string) []string {
	env = append(gocmd.Without(env, "GOCACHE", "GOCACHEPROG"), "GOCACHE="+gocache)
	cfg := cacheprog.Config{Dir: gocache, Remote: g.env.GOCACHEPROG, Note: g.cacheNote(), Timeout: cacheprog.Timeout}
	if g.env.GOCACHE != "off" {
		cfg.Seed = g.env.GOCACHE
	}
	if g.opts.CacheProg == "" || (cfg.Seed == "" && cfg.Remote == "") {
		return env
	}
	prog, progEnv, ok := cacheprog.Command(g.opts.CacheProg, cfg)
	if !ok {
		return env
	}
	return append(env, "GOCACHEPROG="+prog, progEnv)
}

// cacheNote is the file that says why the vendor's shared build cache
// failed, if it did (package cacheprog).
func (g *gen) cacheNote() string { return filepath.Join(g.tmp, cacheprog.NoteFile) }
