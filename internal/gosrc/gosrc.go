// Package gosrc lists what builds a module, as the go command lists it:
// the Go, assembly, C and embedded files of its packages, its go.mod and
// go.sum, and its licence. Nothing else of a module's directory is
// carried into a bundle: not dotfiles, data files, build output or version
// control, and never a file reached through a symlink that leaves the
// module.
package gosrc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/shazow/go-selfcompile/internal/gocmd"
)

// listFields are the go list fields that name a package's files.
const listFields = "Dir,ImportPath,Module,GoFiles,CgoFiles,CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles,SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles,IgnoredGoFiles,IgnoredOtherFiles"

type listedPackage struct {
	Dir, ImportPath string
	Module          *struct{ Path, Dir string }
	GoFiles, CgoFiles, CFiles, CXXFiles, MFiles, HFiles, FFiles, SFiles,
	SwigFiles, SwigCXXFiles, SysoFiles, EmbedFiles, IgnoredGoFiles, IgnoredOtherFiles []string
}

func (p *listedPackage) files() []string {
	var all []string
	for _, fs := range [][]string{p.GoFiles, p.CgoFiles, p.CFiles, p.CXXFiles, p.MFiles, p.HFiles, p.FFiles, p.SFiles,
		p.SwigFiles, p.SwigCXXFiles, p.SysoFiles, p.EmbedFiles, p.IgnoredGoFiles, p.IgnoredOtherFiles} {
		for _, f := range fs {
			if !strings.HasSuffix(f, "_test.go") {
				all = append(all, filepath.Join(p.Dir, filepath.FromSlash(f)))
			}
		}
	}
	return all
}

// Options says what Files lists.
type Options struct {
	// Envs are the environments to list with, each added to the go
	// command's (as in "GOOS=darwin", "GOARCH=arm64"); none means the go
	// command's own.
	Envs [][]string
	// Deps lists the packages that the matching ones import, too, within
	// the modules of Modules.
	Deps bool
	// Modules, if not empty, restricts the listing to the packages of
	// these modules.
	Modules []string
}

// Files returns the absolute paths of the files that build the packages
// matching patterns, as go list run by g reports them for each environment
// of opts, and, for every module those packages belong to, its go.mod,
// go.sum and licence files. The files of a module's packages are those of
// every target: build constraints for other platforms and tags are
// ignored, and embedded files are those of the targets listed. Every file
// must be inside its module's directory, symlinks included.
func Files(ctx context.Context, g gocmd.Go, opts Options, patterns ...string) ([]string, error) {
	envs := opts.Envs
	if len(envs) == 0 {
		envs = [][]string{nil}
	}
	args := []string{"list", "-e", "-json=" + listFields}
	if opts.Deps {
		args = append(args, "-deps")
	}
	args = append(append(args, "--"), patterns...)
	seen := map[string]bool{}
	modules := map[string]string{} // directory -> module path
	var files []string
	for _, env := range envs {
		lg := g
		if env != nil {
			lg.Env = append(slices.Clone(g.Env), env...)
			if g.Env == nil {
				lg.Env = append(os.Environ(), env...)
			}
		}
		out, err := lg.Run(ctx, args...)
		if err != nil {
			return nil, err
		}
		dec := json.NewDecoder(strings.NewReader(string(out)))
		for {
			var p listedPackage
			if err := dec.Decode(&p); err == io.EOF {
				break
			} else if err != nil {
				return nil, fmt.Errorf("reading go list output: %w", err)
			}
			if p.Module == nil || p.Module.Dir == "" || (len(opts.Modules) > 0 && !slices.Contains(opts.Modules, p.Module.Path)) {
				continue // standard library, a pattern that matched nothing, or another module
			}
			modules[p.Module.Dir] = p.Module.Path
			for _, f := range p.files() {
				if !seen[f] {
					seen[f] = true
					files = append(files, f)
				}
			}
		}
	}
	for dir := range modules {
		for _, f := range moduleFiles(dir) {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
	}
	real := map[string]string{}
	for _, f := range files {
		if err := inModule(f, modules, real); err != nil {
			return nil, err
		}
	}
	slices.Sort(files)
	return files, nil
}

// moduleFiles returns the files at a module's root that are carried with
// it: go.mod, go.sum and its licence and notices.
func moduleFiles(dir string) []string {
	var out []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		name := e.Name()
		if name == "go.mod" || name == "go.sum" || IsLicense(name) {
			if e.Type().IsRegular() || e.Type()&fs.ModeSymlink != 0 {
				out = append(out, filepath.Join(dir, name))
			}
		}
	}
	return out
}

// IsLicense reports whether a file name is that of a licence or notice,
// which is carried with a module's source.
func IsLicense(name string) bool {
	upper := strings.ToUpper(name)
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "NOTICE", "UNLICENSE", "PATENTS", "COPYRIGHT"} {
		if upper == p || strings.HasPrefix(upper, p+".") || strings.HasPrefix(upper, p+"-") || strings.HasPrefix(upper, p+"_") {
			return true
		}
	}
	return false
}

// ErrOutside matches a file that would be carried but leaves its module
// through a symlink.
var ErrOutside = errors.New("file leaves its module through a symlink")

// inModule checks that f, with symlinks resolved, is a regular file inside
// the directory of the module that holds it. real caches resolved
// directories.
func inModule(f string, modules map[string]string, real map[string]string) error {
	var modDir string
	for dir := range modules {
		if strings.HasPrefix(f, dir+string(filepath.Separator)) && len(dir) > len(modDir) {
			modDir = dir
		}
	}
	if modDir == "" {
		return fmt.Errorf("%s is in no module", f)
	}
	resolve := func(dir string) (string, error) {
		if r, ok := real[dir]; ok {
			return r, nil
		}
		r, err := filepath.EvalSymlinks(dir)
		real[dir] = r
		return r, err
	}
	realMod, err := resolve(modDir)
	if err != nil {
		return err
	}
	realDir, err := resolve(filepath.Dir(f))
	if err != nil {
		return err
	}
	target := filepath.Join(realDir, filepath.Base(f))
	if fi, err := os.Lstat(target); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		if target, err = filepath.EvalSymlinks(target); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(target, realMod+string(filepath.Separator)) {
		return fmt.Errorf("%w: %s resolves to %s, outside %s", ErrOutside, f, target, modDir)
	}
	fi, err := os.Stat(target)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", f)
	}
	return nil
}
