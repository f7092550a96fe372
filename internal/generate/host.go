package generate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/gosrc"
	"github.com/shazow/go-selfcompile/internal/stub"
)

// hostInfo is the host program, as the go command sees it.
type hostInfo struct {
	mainPkg   string // import path of the main package
	mainDir   string // its directory
	modPath   string // the host module
	modDir    string // its root
	buildList []string
	replaced  []replaced // modules replaced by a directory, which the bundle carries
	root      string     // the directory that holds the host module and every replaced one
}

// replaced is a module of the build list replaced by a local directory.
type replaced struct {
	path string // module path
	dir  string // absolute directory
}

// loadHost asks the go command about the main package and its module
// graph, and checks that the bundle can carry every module replaced by a
// directory.
func (g *gen) loadHost(ctx context.Context) error {
	var pkg struct {
		Name, ImportPath, Dir string
		Module                *struct{ Path, Dir string }
	}
	if err := g.goCmd.JSON(ctx, &pkg, "list", "-json=Name,ImportPath,Dir,Module", "."); err != nil {
		return err
	}
	if pkg.Name != "main" {
		return fmt.Errorf("%s is package %s, not a main package: run go-selfcompile from the go:generate line of a program's main package", g.goCmd.Dir, pkg.Name)
	}
	if pkg.Module == nil || pkg.Module.Dir == "" {
		return fmt.Errorf("%s is not in a module: run go mod init first", g.goCmd.Dir)
	}
	h := hostInfo{mainPkg: pkg.ImportPath, mainDir: pkg.Dir, modPath: pkg.Module.Path, modDir: pkg.Module.Dir, root: pkg.Module.Dir}
	out, err := g.goCmd.Run(ctx, "list", "-m", "all")
	if err != nil {
		return err
	}
	h.buildList = strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, line := range h.buildList[1:] {
		f := strings.Fields(line)
		if len(f) != 4 || f[2] != "=>" {
			continue
		}
		if err := h.addReplaced(f[0], f[3]); err != nil { // a directory replacement
			return err
		}
		if filepath.IsAbs(f[3]) { // as the bundle's go.mod names it (relativeReplaces), and so an install's go list
			rel, err := filepath.Rel(h.modDir, f[3])
			if err != nil {
				return err
			}
			h.buildList[i+1] = f[0] + " " + f[1] + " => " + filepath.ToSlash(rel)
		}
	}
	g.host = h
	return nil
}

// addReplaced records a module replaced by a directory, which must hold
// the module, and widens the root to hold it.
func (h *hostInfo) addReplaced(path, dir string) error {
	abs := dir
	if !filepath.IsAbs(dir) {
		abs = filepath.Join(h.modDir, filepath.FromSlash(dir))
	}
	if _, err := os.Stat(filepath.Join(abs, "go.mod")); err != nil {
		return fmt.Errorf("module %s is replaced by %s, which the bundle cannot carry: %v (fix the replace directive in %s)", path, dir, err, filepath.Join(h.modDir, "go.mod"))
	}
	h.replaced = append(h.replaced, replaced{path: path, dir: abs})
	for !fsutil.Within(abs, h.root) {
		h.root = filepath.Dir(h.root)
	}
	return nil
}

// checkVersion refuses a generator whose version differs from the
// version of the library that the host's go.mod requires: the bundle
// format, the stub and the library must agree. The fix is to run the
// generator that go.mod names, with go tool. It reads go.mod only, so that
// it answers before the go command loads anything.
func checkVersion(self *debug.BuildInfo, gomod string) error {
	f, err := gosrc.ReadModFile(gomod)
	if err != nil {
		return err
	}
	if self == nil || f.Module.Mod.Path == stub.LibraryPath {
		return nil // the host is the library itself: one tree
	}
	want := ""
	for _, r := range f.Require {
		if r.Mod.Path == stub.LibraryPath {
			want = r.Mod.Version
		}
	}
	if want == "" {
		return fmt.Errorf("%s does not require %s: run go get -tool %s/cmd/go-selfcompile in it", f.Module.Mod.Path, stub.LibraryPath, stub.LibraryPath)
	}
	for _, r := range f.Replace {
		if r.Old.Path == stub.LibraryPath && (r.Old.Version == "" || r.Old.Version == want) {
			want += " => " + strings.TrimSpace(r.New.Path+" "+r.New.Version)
		}
	}
	mine := libraryVersion(self)
	if !sameLibrary(mine, want) {
		return fmt.Errorf("this go-selfcompile is %q but %s requires %q: the generator and the library must be the same version; run go get -tool %s/cmd/go-selfcompile@%s and use //go:generate go tool go-selfcompile",
			mine, f.Module.Mod.Path, want, stub.LibraryPath, strings.Fields(want)[0])
	}
	return nil
}

// libraryVersion returns the version of this library that a build info
// records, as "version" or "version => replacement".
func libraryVersion(bi *debug.BuildInfo) string {
	for _, m := range append([]*debug.Module{&bi.Main}, bi.Deps...) {
		if m.Path != stub.LibraryPath {
			continue
		}
		v := m.Version
		if r := m.Replace; r != nil {
			v += " => " + r.Path // a directory: build info says its version is (devel)
			if r.Version != "(devel)" {
				v += " " + r.Version
			}
		}
		return v
	}
	return "(unknown)"
}

// sameLibrary compares the generator's version of the library with the
// host's: go tool builds the generator from the module the host
// requires, so they are equal, replacement included.
func sameLibrary(mine, host string) bool { return mine == host }
