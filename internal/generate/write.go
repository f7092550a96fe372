package generate

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/stub"
)

// run collects every part, writes the bundles (in parallel, one per
// core), and then the Go files that embed them.
func (g *gen) run(ctx context.Context) (*Result, error) {
	generated, err := g.generatedFiles()
	if err != nil {
		return nil, err
	}
	shared := &bundle.Manifest{Kind: bundle.Shared, GoVersion: g.env.GOVERSION, MainModule: g.host.modPath, MainPackage: g.host.mainPkg,
		ModuleDir: g.rel(g.host.modDir), MainDir: relSlash(g.host.modDir, g.host.mainDir), Targets: g.targets, BuildList: g.host.buildList, SkipSource: g.opts.SkipSource,
		HostVersion: g.opts.HostVersion, Vendor: g.vendor}
	res := &Result{Shared: shared, Toolchains: map[string]*bundle.Manifest{}}
	var sharedParts []bundle.PartFiles
	if !g.opts.SkipSource {
		g.logf("Listing the source of %s", g.host.modPath)
		src, err := g.sourceFiles(ctx, generated)
		if err != nil {
			return nil, err
		}
		res.Large = large(src)
		sharedParts = append(sharedParts, bundle.PartFiles{Name: bundle.PartSource, Files: src})
	}
	if g.opts.Proxy {
		// Installs list the packages with -mod=readonly: go.sum must pin
		// every module that a build for each target reads.
		shared.FetchModules = true
		if _, err := g.download(ctx, g.onlineGo()); err != nil {
			return nil, fmt.Errorf("checking that go.sum pins every module the program builds with: %w", err)
		}
	} else {
		g.logf("Collecting the modules of %s", g.host.mainPkg)
		mods, err := g.moduleFiles(ctx)
		if err != nil {
			return nil, err
		}
		sharedParts = append(sharedParts, bundle.PartFiles{Name: bundle.PartModules, Files: mods})
	}
	jobs := []writeJob{{name: stub.SharedBundle, m: shared, parts: sharedParts}}
	for _, t := range g.targets {
		job, err := g.toolchainJob(ctx, t)
		if err != nil {
			return nil, err
		}
		res.Toolchains[t] = job.m
		jobs = append(jobs, job)
	}
	if err := g.writeBundles(jobs); err != nil {
		return nil, err
	}
	if g.opts.Beside {
		if jobs, err = g.writeSides(jobs); err != nil {
			return nil, err
		}
		res.Sides, res.BundlePath, res.BundleURL = map[string]string{}, g.bundlePath(), strings.TrimSuffix(g.opts.BundleURL, "/")
		for _, t := range g.targets {
			goos, goarch, _ := strings.Cut(t, "/")
			res.Sides[t] = filepath.Join(g.host.mainDir, stub.BundleDir, stub.SideFile(goos, goarch))
		}
	}
	return res, g.install(jobs, generated)
}

// writeSides writes, for each target, the side file (the shared bundle and
// the target's toolchain bundle, one after the other) and the beside
// bundle that describes it, and returns them as what to install.
func (g *gen) writeSides(jobs []writeJob) ([]writeJob, error) {
	shared := jobs[0]
	var out []writeJob
	for _, tc := range jobs[1:] {
		goos, goarch := tc.m.GOOS, tc.m.GOARCH
		sideName := stub.SideFile(goos, goarch)
		side := &bundle.Side{Path: g.bundlePath()}
		if u := g.opts.BundleURL; u != "" {
			side = &bundle.Side{URL: strings.TrimSuffix(u, "/") + "/" + sideName}
		}
		err := fsutil.WriteAtomic(filepath.Join(g.tmp, sideName), 0o644, func(w io.Writer) error {
			var off int64
			for _, j := range []writeJob{shared, tc} {
				sb, err := appendBundle(w, filepath.Join(g.tmp, j.name), j.m, off)
				if err != nil {
					return err
				}
				side.Bundles = append(side.Bundles, sb)
				off += sb.Size
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", sideName, err)
		}
		m := &bundle.Manifest{Kind: bundle.Beside, GoVersion: g.env.GOVERSION, GOOS: goos, GOARCH: goarch, MainModule: g.host.modPath, MainPackage: g.host.mainPkg, Side: side}
		name := stub.BesideBundle(goos, goarch)
		err = fsutil.WriteAtomic(filepath.Join(g.tmp, name), 0o644, func(w io.Writer) error {
			return bundle.Write(w, m, nil, g.opts.Level)
		})
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
		out = append(out, writeJob{name: name, m: m}, writeJob{name: sideName})
	}
	return out, nil
}

// appendBundle copies the bundle file at name to w, where it starts at
// off, and describes it.
func appendBundle(w io.Writer, name string, m *bundle.Manifest, off int64) (bundle.SideBundle, error) {
	f, err := os.Open(name)
	if err != nil {
		return bundle.SideBundle{}, err
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	if err != nil {
		return bundle.SideBundle{}, err
	}
	sum := bundle.TrailerSum(bundle.Trailer(f, n))
	if sum == "" {
		return bundle.SideBundle{}, fmt.Errorf("%s has no trailer", name)
	}
	return bundle.SideBundle{Manifest: m, Offset: off, Size: n, SHA256: sum}, nil
}

// bundlePath is where a beside program looks for its side file.
func (g *gen) bundlePath() string {
	return cmp.Or(filepath.ToSlash(g.opts.BundlePath), filepath.Base(g.host.mainDir)+".selfcompile")
}

// writeJob is a bundle to write.
type writeJob struct {
	name  string // file name in the bundle package
	m     *bundle.Manifest
	parts []bundle.PartFiles
}

// toolchainJob collects the toolchain bundle of a target.
func (g *gen) toolchainJob(ctx context.Context, target string) (writeJob, error) {
	goos, goarch, _ := strings.Cut(target, "/")
	m := &bundle.Manifest{Kind: bundle.Toolchain, GoVersion: g.env.GOVERSION, GOOS: goos, GOARCH: goarch, MainModule: g.host.modPath, MainPackage: g.host.mainPkg}
	if g.opts.Proxy {
		var err error
		m.Module, err = g.toolchainPin(ctx, goos, goarch)
		return writeJob{name: stub.ToolchainBundle(goos, goarch), m: m}, err
	}
	files, err := g.toolchainFiles(ctx, target)
	if err != nil {
		return writeJob{}, err
	}
	parts := []bundle.PartFiles{{Name: bundle.PartToolchain, Files: files}}
	if g.opts.WarmCache {
		cache, err := g.warmFiles(ctx, target)
		if err != nil {
			return writeJob{}, err
		}
		parts = append(parts, bundle.PartFiles{Name: bundle.PartCache, Files: cache})
	}
	return writeJob{name: stub.ToolchainBundle(goos, goarch), m: m, parts: parts}, nil
}

// writeBundles writes the bundles into the scratch directory, as many at
// once as there are cores.
func (g *gen) writeBundles(jobs []writeJob) error {
	g.logf("Writing %d bundles (%s, level %s)", len(jobs), g.env.GOVERSION, g.opts.Level)
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, runtimeCPUs()))
	for i, j := range jobs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = fsutil.WriteAtomic(filepath.Join(g.tmp, j.name), 0o644, func(w io.Writer) error {
				return bundle.Write(w, j.m, j.parts, g.opts.Level)
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("writing %s: %w", jobs[i].name, err)
		}
	}
	return nil
}

// install moves the bundles into the bundle package, writes the Go files,
// and removes the files of targets no longer generated: the package then
// matches the bundles, whatever ran before.
func (g *gen) install(jobs []writeJob, generated map[string][]byte) error {
	dir := filepath.Join(g.host.mainDir, stub.BundleDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, j := range jobs {
		keep[j.name] = true
		if err := installFile(filepath.Join(g.tmp, j.name), filepath.Join(dir, j.name)); err != nil {
			return err
		}
	}
	for name, content := range generated {
		keep[filepath.Base(name)] = true
		if err := fsutil.WriteAtomic(name, 0o644, func(w io.Writer) error { _, err := w.Write(content); return err }); err != nil {
			return err
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		ours := strings.HasPrefix(e.Name(), "toolchain_") || strings.HasSuffix(e.Name(), ".bundle") || strings.HasSuffix(e.Name(), ".selfcompile") ||
			strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".bundle.tmp-") // a killed run's
		if !keep[e.Name()] && ours {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}

// installFile copies src over dst atomically, synced before the rename: a
// build that reads dst meanwhile, a kill or a crash leaves the old bundle
// or the whole new one where a vendor commits them.
func installFile(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	return fsutil.WriteAtomic(dst, 0o644, func(w io.Writer) error {
		if _, err := io.Copy(w, f); err != nil {
			return err
		}
		return w.(*os.File).Sync() // WriteAtomic writes to its temporary file
	})
}

// generatedFiles returns the Go files this run writes, by path: the bundle
// package's and the stub.
func (g *gen) generatedFiles() (map[string][]byte, error) {
	pkg, err := stub.BundlePackage(g.host.mainPkg, g.targets, g.opts.Beside)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for name, content := range pkg {
		out[filepath.Join(g.host.mainDir, stub.BundleDir, name)] = content
	}
	main, err := stub.Main(stub.BundleImportPath(g.host.mainPkg), nil, stub.EmptyRecord, false)
	if err != nil {
		return nil, err
	}
	out[filepath.Join(g.host.mainDir, stub.MainFile)] = main
	return out, nil
}

// writeNew writes content to a new file name, creating its directory.
func writeNew(name string, content []byte) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	return os.WriteFile(name, content, 0o644)
}

func relSlash(base, p string) string {
	r, _ := filepath.Rel(base, p)
	return filepath.ToSlash(r)
}

func removeAll(dir string) { fsutil.RemoveAll(dir) }
