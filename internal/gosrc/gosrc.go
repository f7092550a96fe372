// Package gosrc lists what builds a module, as the go command lists it:
// the Go, assembly, C and embedded files of its packages, its go.mod and
// go.sum, and its licence. Nothing else of a module's directory is
// carried into a bundle: not dotfiles, data files, build output or version
// control, and never a file reached through a symlink that leaves the
// module.
package gosrc

import (
	"bytes"
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

	"golang.org/x/mod/modfile"

	"github.com/shazow/go-selfcompile/internal/gocmd"
)

// Package is what go list reports of a package: its identity, and the
// files that build it.
type Package struct {
	ImportPath, Name, Dir string
	Standard              bool
	Module                *ModuleInfo
	Error                 *struct{ Err string }
	GoFiles, CgoFiles, CFiles, CXXFiles, MFiles, HFiles, FFiles, SFiles,
	SwigFiles, SwigCXXFiles, SysoFiles, EmbedFiles, IgnoredGoFiles, IgnoredOtherFiles []string
}

// ModuleInfo is what go list reports of the module that provides a
// package.
type ModuleInfo struct {
	Path, Version, Dir string
	Main               bool
}

// fields are the go list fields of Package.
const fields = "ImportPath,Name,Dir,Standard,Module,Error,GoFiles,CgoFiles,CFiles,CXXFiles,MFiles,HFiles,FFiles,SFiles,SwigFiles,SwigCXXFiles,SysoFiles,EmbedFiles,IgnoredGoFiles,IgnoredOtherFiles"

// List runs go list -e with args (flags such as -deps, then patterns),
// with env added to g's environment, and returns the packages it reports.
func List(ctx context.Context, g gocmd.Go, env []string, args ...string) ([]Package, error) {
	if env != nil {
		g.Env = append(slices.Clone(cmpEnv(g.Env)), env...)
	}
	out, err := g.Run(ctx, append([]string{"list", "-e", "-json=" + fields}, args...)...)
	if err != nil {
		return nil, err
	}
	return DecodeAll[Package](out)
}

// DecodeAll decodes the JSON values that the go command prints one after
// the other (go list -json, go mod download -json), in order.
func DecodeAll[T any](out []byte) ([]T, error) {
	var all []T
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var v T
		if err := dec.Decode(&v); err == io.EOF {
			return all, nil
		} else if err != nil {
			return nil, fmt.Errorf("reading the go command's output: %w", err)
		}
		all = append(all, v)
	}
}

func cmpEnv(env []string) []string {
	if env == nil {
		return os.Environ()
	}
	return env
}

// files returns the paths of the files that build p, for every target:
// build constraints for other platforms and tags are ignored.
func (p *Package) files() []string {
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

// Files returns the absolute paths of the files that build pkgs, but for
// packages of the standard library and of modules other than those named
// in modules (all, when it is empty); and, for every module they belong
// to, its go.mod, go.sum and licence files. Every file must be inside its
// module's directory, symlinks included.
func Files(pkgs []Package, modules ...string) ([]string, error) {
	seen := map[string]bool{}
	dirs := map[string]bool{} // module directories
	var files []string
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	for _, p := range pkgs {
		if p.Module == nil || p.Module.Dir == "" || (len(modules) > 0 && !slices.Contains(modules, p.Module.Path)) {
			continue // standard library, a pattern that matched nothing, or another module
		}
		dirs[p.Module.Dir] = true
		for _, f := range p.files() {
			add(f)
		}
	}
	for dir := range dirs {
		for _, f := range moduleFiles(dir) {
			add(f)
		}
	}
	real := map[string]string{}
	for _, f := range files {
		if err := inModule(f, dirs, real); err != nil {
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

// ReadModFile parses the go.mod file at path.
func ReadModFile(path string) (*modfile.File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return modfile.Parse(path, data, nil)
}

// ErrOutside matches a file that would be carried but leaves its module
// through a symlink.
var ErrOutside = errors.New("file leaves its module through a symlink")

// inModule checks that f, with symlinks resolved, is a regular file inside
// the directory of the module that holds it. real caches resolved
// directories.
func inModule(f string, dirs map[string]bool, real map[string]string) error {
	var modDir string
	for dir := range dirs {
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
