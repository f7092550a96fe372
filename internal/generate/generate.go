// Package generate is the generator behind cmd/go-selfcompile: it writes
// the bundle package and the stub that make a host program able to
// recompile itself with plugins.
package generate

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/semver"

	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fetch"
	"github.com/shazow/go-selfcompile/internal/gocmd"
)

// Options configures Generate.
type Options struct {
	// Dir is the host's main package directory; it defaults to ".".
	Dir string
	// Targets are the GOOS/GOARCH pairs to bundle a toolchain for; they
	// default to the go command's GOOS/GOARCH. Toolchains for targets
	// other than the go command's own come from the golang.org/toolchain
	// module of the same Go version, through the module proxy.
	Targets []string
	// SkipSource leaves the host's own source out of the bundle; installs
	// then fetch it through the module proxy.
	SkipSource bool
	// Level is the compression level.
	Level bundle.Level
	// Go is the go command whose toolchain is bundled; it defaults to
	// "go" on PATH.
	Go string
	// WarmCache builds the host's dependencies for each target, as an
	// install will, and ships the build cache entries, so that a first
	// install compiles only the stub, the main package and the plugins.
	WarmCache bool
	// CacheProg is an executable that serves as the warm cache's build
	// cache when started as package cacheprog says (it calls
	// cacheprog.Main first thing): the warm cache then takes what the go
	// command's build cache (GOCACHE, and GOCACHEPROG's) already holds
	// instead of compiling it again. Empty, or on Windows, the warm cache
	// is compiled into an empty build cache.
	CacheProg string
	// Self is the generator's build info, checked against the version of
	// the library that the host requires; nil skips the check.
	Self *debug.BuildInfo
	// HostVersion is the version of the host module being released, as in
	// "v1.2.0", recorded in the shared bundle for a build that records no
	// version of its own (go build in a checkout gives "(devel)"): the
	// catalog's host constraints are checked against it. "" for none.
	HostVersion string
	// Vendor is the vendor's catalog configuration that the program
	// carries in its shared bundle (keys, location, policy, and the
	// catalog current at release time); nil for none. It is checked: the
	// keys must verify the embedded catalog.
	Vendor *catalog.Config
	// Beside ships the shared and toolchain bundles in a file beside the
	// executable instead of in it: the generator writes that file for each
	// target into the bundle package (stub.SideFile), for the vendor to
	// ship as BundlePath, and the program embeds only a beside bundle that
	// names it and the sha256 and size of each bundle it holds.
	Beside bool
	// BundlePath is where a Beside program looks for its side file:
	// relative to its executable's directory, or absolute. It defaults to
	// the name of the main package's directory with ".selfcompile" added.
	BundlePath string
	// BundleURL, with Beside, is where the vendor publishes the side files
	// (a base URL: the file of a target is stub.SideFile under it), which
	// installs fetch into their cache instead of looking beside the
	// executable: https, or a file:// URL or path for a file system
	// every user reaches.
	BundleURL string
	// Proxy leaves the toolchain and the modules out of the binary, which
	// pins them instead: installs fetch the golang.org/toolchain module of
	// its Go version and the host's modules through the module proxy,
	// each checked against the hash the binary pins (the toolchain's h1:,
	// the host's go.sum), and keep them in their cache. The binary
	// embeds the host's source, whose go.sum pins the modules, and the
	// toolchain's pin. Not with SkipSource, Beside or WarmCache.
	Proxy bool
	// Logger receives progress messages; nil means none.
	Logger *log.Logger
}

// Result is what Generate wrote.
type Result struct {
	// Shared is the manifest of the shared bundle, and Toolchains those of
	// the toolchain bundles, by target; their parts carry their
	// compressed sizes.
	Shared     *bundle.Manifest
	Toolchains map[string]*bundle.Manifest
	// Large lists the files of the source part of 1 MB or more.
	Large []string
	// Sides are, with Options.Beside, the side files written, by target,
	// and BundlePath where the binaries look for them.
	Sides      map[string]string
	BundlePath string
	// BundleURL is, with Options.BundleURL, where the vendor publishes
	// them: each under its base name.
	BundleURL string
	// Elapsed is the time Generate took.
	Elapsed time.Duration
}

// ReleaseTargets is the usual set of targets of a release.
var ReleaseTargets = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64"}

// gen is one run of Generate.
type gen struct {
	opts    Options
	logf    func(string, ...any)
	goCmd   gocmd.Go // the go command, in the main package's directory, with the user's environment
	env     goEnv
	host    hostInfo
	targets []string
	vendor  []byte // the vendor's catalog configuration, as JSON
	tmp     string // private scratch directory, removed at the end
}

// Generate writes, into the main package in opts.Dir, the bundle package
// (a shared bundle with the host's source and modules, and a toolchain
// bundle per target, each embedded by a Go file named for its target) and
// the stub that registers it. The same inputs give byte-identical
// bundles.
func Generate(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	g, err := newGen(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer removeAll(g.tmp)
	res, err := g.run(ctx)
	if err != nil {
		return nil, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// newGen checks, in the first seconds, everything that would make
// generation fail: no go command, not a main package, not a module, a
// version skew, a target without a toolchain, a replaced directory that
// cannot be carried.
func newGen(ctx context.Context, opts Options) (*gen, error) {
	g := &gen{opts: opts, logf: func(string, ...any) {}}
	if opts.Logger != nil {
		g.logf = opts.Logger.Printf
	}
	if v := opts.HostVersion; v != "" && semver.Canonical(v) != v {
		return nil, fmt.Errorf("host version %q: want a semantic version, as in v1.2.0", v)
	}
	if u := opts.BundleURL; u != "" {
		if _, err := fetch.CheckLocation(u); err != nil || !opts.Beside || opts.BundlePath != "" {
			return nil, fmt.Errorf("bundle URL %q: want an https URL, a file:// URL or an absolute path, with --bundle fetch and no --bundle-path (%v)", u, err)
		}
	}
	if opts.Proxy && (opts.Beside || opts.WarmCache || opts.SkipSource) {
		return nil, errors.New("a program that fetches its toolchain and modules through the module proxy carries its source, whose go.sum pins the modules, and no bundle file or build cache entries: not with --skip-source, a bundle file (beside, or a bundle URL) or a warm cache")
	}
	if p := opts.BundlePath; p != "" && (!opts.Beside || strings.HasSuffix(filepath.ToSlash(p), "/") || path.Base(filepath.ToSlash(p)) == "." || path.Base(filepath.ToSlash(p)) == "..") {
		return nil, fmt.Errorf("bundle path %q: want the path of a file, relative to the executable's directory or absolute, with --bundle beside", p)
	}
	dir, err := filepath.Abs(cmp.Or(opts.Dir, "."))
	if err != nil {
		return nil, err
	}
	bin, err := exec.LookPath(cmp.Or(opts.Go, "go"))
	if err != nil {
		return nil, fmt.Errorf("no go command found (%v): go-selfcompile bundles the toolchain of the go on PATH, so install Go or put it on PATH", err)
	}
	// Without a workspace: installs build the host module alone.
	g.goCmd = gocmd.Go{Bin: bin, Dir: dir, Env: append(gocmd.Without(os.Environ(), "GOWORK"), "GOWORK=off")}
	if err := g.goCmd.JSON(ctx, &g.env, "env", "-json", "GOROOT", "GOVERSION", "GOOS", "GOARCH", "GOHOSTOS", "GOHOSTARCH", "GOMODCACHE", "GOPROXY", "GOMOD", "GOCACHE", "GOCACHEPROG", "GOFLAGS", "GOEXPERIMENT"); err != nil {
		return nil, err
	}
	g.goCmd.Env = append(gocmd.Without(g.goCmd.Env, "GOFLAGS"), "GOFLAGS="+readOnlyFlags(g.env.GOFLAGS))
	if g.env.GOMOD == "" || g.env.GOMOD == os.DevNull {
		return nil, fmt.Errorf("%s is not in a module: run go mod init first", dir)
	}
	if err := checkVersion(opts.Self, g.env.GOMOD); err != nil {
		return nil, err
	}
	if g.targets, err = g.checkTargets(opts.Targets); err != nil {
		return nil, err
	}
	if g.vendor, err = checkVendor(opts.Vendor); err != nil {
		return nil, err
	}
	if err := g.loadHost(ctx); err != nil {
		return nil, err
	}
	if g.tmp, err = os.MkdirTemp("", "go-selfcompile-"); err != nil {
		return nil, err
	}
	return g, nil
}

// checkTargets validates the targets and returns them sorted.
func (g *gen) checkTargets(targets []string) ([]string, error) {
	if len(targets) == 0 {
		targets = []string{g.env.GOOS + "/" + g.env.GOARCH}
	}
	for _, t := range targets {
		goos, goarch, ok := strings.Cut(t, "/")
		if !ok || goos == "" || goarch == "" || strings.ContainsAny(t, " ,") {
			return nil, fmt.Errorf("target %q is not GOOS/GOARCH, as in linux/amd64", t)
		}
		if !g.native(t) && !strings.HasPrefix(g.env.GOVERSION, "go1.") {
			return nil, fmt.Errorf("the go command is %s, not a release: toolchains for other targets (%s) come from the golang.org/toolchain module of a release", g.env.GOVERSION, t)
		}
	}
	return slices.Compact(slices.Sorted(slices.Values(targets))), nil
}

// native reports whether target is the platform the go command runs on,
// whose toolchain is its own GOROOT.
func (g *gen) native(target string) bool {
	return target == g.env.GOHOSTOS+"/"+g.env.GOHOSTARCH
}

// goEnv is the part of go env that Generate reads.
type goEnv struct {
	GOROOT, GOVERSION, GOOS, GOARCH, GOHOSTOS, GOHOSTARCH, GOMODCACHE, GOPROXY, GOMOD string
	GOCACHE, GOCACHEPROG, GOFLAGS, GOEXPERIMENT                                       string
}

// readOnlyFlags returns goflags, the user's GOFLAGS (from the environment
// or go env -w), with -mod=readonly in place of any -mod flag: the go
// command that the generator asks about the host reads its go.mod and
// go.sum and never writes them, even when the vendor's GOFLAGS says
// -mod=mod.
func readOnlyFlags(goflags string) string {
	flags := slices.DeleteFunc(strings.Fields(goflags), func(f string) bool {
		name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
		return name == "mod"
	})
	return strings.Join(append(flags, "-mod=readonly"), " ")
}

func runtimeCPUs() int { return runtime.GOMAXPROCS(0) }

// checkVendor checks a catalog configuration in the first seconds and
// returns it as the shared bundle carries it: its keys verify the
// embedded catalog, whose name it takes when none is given.
func checkVendor(cfg *catalog.Config) ([]byte, error) {
	if cfg == nil {
		return nil, nil
	}
	if len(cfg.Keys) == 0 {
		return nil, fmt.Errorf("a catalog needs the vendor's verifier keys (--catalog-key)")
	}
	if _, err := catalog.Verifiers(cfg.Keys); err != nil {
		return nil, err
	}
	if err := cfg.Policy.Check(); err != nil {
		return nil, err
	}
	if len(cfg.Embedded) == 0 && cfg.URL == "" {
		return nil, fmt.Errorf("a catalog needs a file to embed (--catalog) or a location (--catalog-url)")
	}
	if u := cfg.URL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "file://") && !filepath.IsAbs(u) {
		return nil, fmt.Errorf("the catalog's location %q: want an https URL, a file:// URL or an absolute path", u)
	}
	c := *cfg
	if len(c.Embedded) > 0 {
		cat, err := catalog.Open(c.Embedded, c.Keys)
		if err != nil {
			return nil, fmt.Errorf("the catalog to embed: %w", err)
		}
		if c.Name != "" && cat.Name != c.Name {
			return nil, fmt.Errorf("the catalog to embed is %q, not %q", cat.Name, c.Name)
		}
		c.Name = cat.Name
	}
	if c.Name == "" {
		return nil, fmt.Errorf("a catalog without one to embed needs its name (--catalog-name)")
	}
	return json.Marshal(c)
}
