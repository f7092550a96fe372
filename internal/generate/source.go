package generate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/gocmd"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/stub"
)

// sourceFiles lists the source part: what builds the packages of the host
// module and of every module it replaces by a directory, for every target,
// as go list reports it, named relative to the root that holds them all;
// with the generated files as this run writes them (generated, by path),
// and without the bundles. A go.mod whose replace directives name absolute directories is
// carried with them made relative, since the restored tree is laid out as
// the root is.
func (g *gen) sourceFiles(ctx context.Context, generated map[string][]byte) ([]bundle.File, error) {
	patterns := []string{g.host.modPath + "/..."}
	for _, r := range g.host.replaced {
		patterns = append(patterns, r.path+"/...")
	}
	paths, err := g.listFiles(ctx, g.goCmd, patterns)
	if err != nil {
		return nil, fmt.Errorf("listing the host's source: %w", err)
	}
	bundleDir := filepath.Join(g.host.mainDir, stub.BundleDir)
	var files []bundle.File
	for _, p := range paths {
		if generated[p] != nil || filepath.Dir(p) == bundleDir || isBundle(p) {
			continue // written by this run, or an earlier one, or the bundles of a host in a replaced module
		}
		f, err := g.sourceFile(p)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	for name, content := range generated {
		src := filepath.Join(g.tmp, "generated", filepath.Base(name))
		if err := writeNew(src, content); err != nil {
			return nil, err
		}
		files = append(files, bundle.File{Name: g.rel(name), Src: src})
	}
	if err := g.relativeReplaces(files); err != nil {
		return nil, err
	}
	sortFiles(files)
	return files, nil
}

// isBundle reports whether p is a bundle that go-selfcompile wrote for some
// host: the bundle cannot carry itself, nor another host's.
func isBundle(p string) bool {
	return filepath.Base(p) == stub.PluginsBundle || (filepath.Base(filepath.Dir(p)) == stub.BundleDir && strings.HasSuffix(p, ".bundle"))
}

// sourceFile names a file of the source part.
func (g *gen) sourceFile(p string) (bundle.File, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return bundle.File{}, err
	}
	return bundle.File{Name: g.rel(p), Src: p, Exec: fi.Mode()&0o111 != 0}, nil
}

// rel names p relative to the root, slash-separated.
func (g *gen) rel(p string) string {
	r, _ := filepath.Rel(g.host.root, p)
	return filepath.ToSlash(r)
}

// relativeReplaces replaces, in files, the host's go.mod by a copy whose
// replace directives name directories relative to the module, if any is
// absolute.
func (g *gen) relativeReplaces(files []bundle.File) error {
	gomod := filepath.Join(g.host.modDir, "go.mod")
	f, err := gosrc.ReadModFile(gomod)
	if err != nil {
		return err
	}
	changed := false
	for _, r := range f.Replace {
		if r.New.Version == "" && filepath.IsAbs(r.New.Path) {
			rel, err := filepath.Rel(g.host.modDir, r.New.Path)
			if err != nil {
				return err
			}
			if err := f.AddReplace(r.Old.Path, r.Old.Version, filepath.ToSlash(rel), ""); err != nil {
				return err
			}
			changed = true
		}
	}
	if !changed {
		return nil
	}
	out, err := f.Format()
	if err != nil {
		return err
	}
	src := filepath.Join(g.tmp, "go.mod")
	if err := writeNew(src, out); err != nil {
		return err
	}
	for i := range files {
		if files[i].Src == gomod {
			files[i].Src = src
		}
	}
	return nil
}

// listFiles lists, with gosrc, the files that build the packages matching
// patterns, for every target.
func (g *gen) listFiles(ctx context.Context, c gocmd.Go, patterns []string) ([]string, error) {
	var pkgs []gosrc.Package
	for _, env := range g.targetEnvs() {
		listed, err := gosrc.List(ctx, c, env, append([]string{"--"}, patterns...)...)
		if err != nil {
			return nil, err
		}
		pkgs = append(pkgs, listed...)
	}
	return gosrc.Files(pkgs)
}

// targetEnvs returns the environment additions that make go list report
// for each target.
func (g *gen) targetEnvs() [][]string {
	var envs [][]string
	for _, t := range g.targets {
		goos, goarch, _ := strings.Cut(t, "/")
		envs = append(envs, []string{"GOOS=" + goos, "GOARCH=" + goarch})
	}
	return envs
}

// large returns the files of at least 1 MB, for the generator to print:
// a vendor should know what ships to every user.
func large(files []bundle.File) []string {
	var out []string
	for _, f := range files {
		if fi, err := os.Stat(f.Src); err == nil && fi.Size() >= 1<<20 {
			out = append(out, fmt.Sprintf("%s (%.1f MB)", f.Name, float64(fi.Size())/1e6))
		}
	}
	return out
}
