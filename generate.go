package selfcompile

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/module"
)

// GenerateOptions configures Generate.
type GenerateOptions struct {
	// Dir is the host's main package directory. It defaults to ".".
	Dir string
	// Out is where the bundle is written. It defaults to selfcompile.bundle
	// in Dir. StubFile is written only when Out is in Dir, since go:embed
	// reads files from the package directory.
	Out string
	// SkipSource leaves the host's own source out of the bundle; installs
	// then fetch it through the module proxy.
	SkipSource bool
	// Level is the compression level.
	Level Level
	// Go is the go command whose toolchain is bundled; it defaults to "go"
	// found on PATH.
	Go string
	// WarmCache builds the host's dependencies with the toolchain it
	// bundles, as an install will, and ships the go build cache entries
	// that this made, so that a first install compiles only the stub, the
	// main package and the plugins.
	WarmCache bool
	// Logger receives progress messages; nil means none.
	Logger *log.Logger
}

// goEnv is the part of `go env` that Generate reads.
type goEnv struct {
	GOROOT, GOVERSION, GOOS, GOARCH, GOHOSTOS, GOHOSTARCH, GOEXE, GOMODCACHE, GOPROXY string
}

// Generate writes a bundle for the main package in opts.Dir: the toolchain
// of the go command that runs it, pruned to what building a program needs;
// the host module's source (unless SkipSource); the host's dependency
// modules laid out as a module proxy; and a manifest. It then writes
// StubFile, which embeds the bundle and registers it. The same inputs give
// a byte-identical bundle. It returns the bundle's manifest, with the
// compressed size of each part filled in.
func Generate(ctx context.Context, opts GenerateOptions) (*Manifest, error) {
	logf := func(format string, args ...any) {
		if opts.Logger != nil {
			opts.Logger.Printf(format, args...)
		}
	}
	dir, err := filepath.Abs(cmpOr(opts.Dir, "."))
	if err != nil {
		return nil, err
	}
	goBin, err := exec.LookPath(cmpOr(opts.Go, "go"))
	if err != nil {
		return nil, fmt.Errorf("selfcompile: no go command found (%v): go-selfcompile bundles the toolchain of the go on PATH, so install Go or put it on PATH", err)
	}
	var env goEnv
	if err := runJSON(ctx, dir, nil, &env, goBin, "env", "-json", "GOROOT", "GOVERSION", "GOOS", "GOARCH", "GOHOSTOS", "GOHOSTARCH", "GOEXE", "GOMODCACHE", "GOPROXY"); err != nil {
		return nil, err
	}
	if env.GOOS != env.GOHOSTOS || env.GOARCH != env.GOHOSTARCH {
		return nil, fmt.Errorf("selfcompile: GOOS/GOARCH is %s/%s but the go command runs on %s/%s; bundling a toolchain for another platform is not supported: run the generator with a go for the target platform",
			env.GOOS, env.GOARCH, env.GOHOSTOS, env.GOHOSTARCH)
	}
	var pkg struct {
		Name, ImportPath, Dir string
		Module                *struct{ Path, Dir string }
	}
	if err := runJSON(ctx, dir, nil, &pkg, goBin, "list", "-json=Name,ImportPath,Dir,Module", "."); err != nil {
		return nil, err
	}
	if pkg.Name != "main" {
		return nil, fmt.Errorf("selfcompile: %s is package %s, not a main package: run go-selfcompile from the go:generate line of a program's main package", dir, pkg.Name)
	}
	if pkg.Module == nil || pkg.Module.Dir == "" {
		return nil, fmt.Errorf("selfcompile: %s is not in a module: run go mod init first", dir)
	}
	mainRel, err := filepath.Rel(pkg.Module.Dir, pkg.Dir)
	if err != nil {
		return nil, err
	}
	out := opts.Out
	if out == "" {
		out = filepath.Join(dir, BundleFile)
	}
	if out, err = filepath.Abs(out); err != nil {
		return nil, err
	}

	m := &Manifest{
		GoVersion:   env.GOVERSION,
		GOOS:        env.GOOS,
		GOARCH:      env.GOARCH,
		MainModule:  pkg.Module.Path,
		MainPackage: pkg.ImportPath,
		MainDir:     filepath.ToSlash(mainRel),
		SkipSource:  opts.SkipSource,
	}
	var parts []bundlePart
	if !opts.SkipSource {
		files, err := collectSource(ctx, pkg.Module.Dir, mainRel, out)
		if err != nil {
			return nil, err
		}
		parts = append(parts, bundlePart{partSource, files})
	}
	modDir, err := os.MkdirTemp("", "go-selfcompile-modules-")
	if err != nil {
		return nil, err
	}
	defer removeModCache(goBin, modDir)
	files, err := collectModules(ctx, goBin, env, pkg.Module.Dir, pkg.ImportPath, modDir)
	if err != nil {
		return nil, err
	}
	parts = append(parts, bundlePart{partModules, files})
	if opts.WarmCache {
		logf("Building the dependencies of %s for the warm cache", pkg.ImportPath)
		files, err := warmCache(ctx, goBin, pkg.Module.Dir, pkg.ImportPath, modDir)
		if err != nil {
			return nil, err
		}
		parts = append(parts, bundlePart{partCache, files})
	}
	files, err = collectToolchain(env)
	if err != nil {
		return nil, err
	}
	parts = append(parts, bundlePart{partToolchain, files})

	logf("Writing %s (%s, %s/%s, level %s)", out, env.GOVERSION, env.GOOS, env.GOARCH, opts.Level)
	start := time.Now()
	err = writeFileAtomic(out, func(f *os.File) error { return writeBundle(f, m, parts, opts.Level) })
	if err != nil {
		return nil, fmt.Errorf("selfcompile: writing bundle: %w", err)
	}
	logf("Wrote bundle in %v", time.Since(start).Round(time.Millisecond))
	if filepath.Dir(out) == dir {
		stub, err := renderStub(buildRecord{})
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(dir, StubFile), func(f *os.File) error { _, err := f.Write(stub); return err }); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// runJSON runs a command in dir and decodes its standard output into v.
func runJSON(ctx context.Context, dir string, env []string, v any, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("selfcompile: %s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return json.Unmarshal(out, v)
}

// collectToolchain lists the parts of GOROOT that building a program
// needs: the go command; the compiler, linker, assembler and cgo; the
// runtime's assembly headers; the standard library's source without tests
// and test data (src/cmd is for building Go itself); VERSION and go.env.
func collectToolchain(env goEnv) ([]bundleFile, error) {
	root := env.GOROOT
	tools := "pkg/tool/" + env.GOOS + "_" + env.GOARCH + "/"
	var files []bundleFile
	add := func(name string, exec bool) {
		files = append(files, bundleFile{name: name, src: filepath.Join(root, filepath.FromSlash(name)), exec: exec})
	}
	for _, name := range []string{"VERSION", "go.env"} {
		add(name, false)
	}
	add("bin/go"+env.GOEXE, true)
	for _, t := range []string{"asm", "cgo", "compile", "link"} {
		add(tools+t+env.GOEXE, true)
	}
	for _, sub := range []string{"pkg/include", "src"} {
		err := filepath.WalkDir(filepath.Join(root, filepath.FromSlash(sub)), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			name := filepath.ToSlash(rel)
			if d.IsDir() {
				if name == "src/cmd" || d.Name() == "testdata" {
					return filepath.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || strings.HasSuffix(name, "_test.go") {
				return nil
			}
			add(name, false)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("selfcompile: reading the toolchain at %s: %w", root, err)
		}
	}
	for _, f := range files {
		if _, err := os.Stat(f.src); err != nil {
			return nil, fmt.Errorf("selfcompile: the toolchain at %s is incomplete: %w", root, err)
		}
	}
	slices.SortFunc(files, func(a, b bundleFile) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

// collectSource lists the host module's files: those git tracks or would
// track (not ignored) when the module is in a git work tree, else every
// file outside version-control directories. Nested modules, the generated
// files and the bundle itself are left out.
func collectSource(ctx context.Context, root, mainRel, bundlePath string) ([]bundleFile, error) {
	var names []string
	cmd := exec.CommandContext(ctx, "git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", ".")
	if out, err := cmd.Output(); err == nil {
		for _, n := range strings.Split(string(out), "\x00") {
			if n != "" {
				names = append(names, n)
			}
		}
	}
	// Not in a git work tree, or in one that ignores the module (a copy
	// under a build directory): every file counts.
	if !slices.Contains(names, "go.mod") {
		names = nil
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && slices.Contains([]string{".git", ".hg", ".svn", ".bzr"}, d.Name()) {
				return filepath.SkipDir
			}
			if !d.IsDir() {
				rel, _ := filepath.Rel(root, p)
				names = append(names, filepath.ToSlash(rel))
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	// Directories with their own go.mod are other modules.
	var nested []string
	for _, n := range names {
		if d, base := pathSplit(n); base == "go.mod" && d != "" {
			nested = append(nested, d+"/")
		}
	}
	skip := map[string]bool{
		pathJoin(filepath.ToSlash(mainRel), StubFile):   true,
		pathJoin(filepath.ToSlash(mainRel), BundleFile): true,
	}
	var files []bundleFile
	for _, n := range names {
		if skip[n] || slices.ContainsFunc(nested, func(p string) bool { return strings.HasPrefix(n, p) }) {
			continue
		}
		src := filepath.Join(root, filepath.FromSlash(n))
		if src == bundlePath {
			continue
		}
		fi, err := os.Stat(src) // follows symlinks: a link to a file is stored as the file
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted from the work tree, or not a file
		}
		files = append(files, bundleFile{name: n, src: src, exec: fi.Mode()&0o111 != 0})
	}
	slices.SortFunc(files, func(a, b bundleFile) int { return strings.Compare(a.name, b.name) })
	return files, nil
}

func pathSplit(p string) (dir, base string) {
	i := strings.LastIndex(p, "/")
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

func pathJoin(dir, name string) string {
	if dir == "." || dir == "" {
		return name
	}
	return dir + "/" + name
}

// collectModules lists the module files that the go command reads to load
// the host's module graph and build its main package, as a module cache
// (GOMODCACHE) tree: cache/download/.../@v/VERSION.{mod,info,ziphash} for
// every module of the graph, and the extracted source of every module that
// provides a package, without tests and test data. It finds them by running
// go list with an empty module cache in modDir, filled from the user's
// module cache first and their GOPROXY after, so what ends up there is what
// the build needs.
//
// An extracted tree rather than the proxy's zip files: the zips carry every
// test file and test data set, and are already deflated, so zstd cannot
// shrink them (github.com/klauspost/compress alone is a 40 MB zip and 3.6 MB
// of source). The .ziphash files carry the go.sum hashes of the full zips,
// which is what the go command checks for a module it finds in its cache.
func collectModules(ctx context.Context, goBin string, env goEnv, root, mainPkg, modDir string) ([]bundleFile, error) {
	cacheDir := filepath.Join(modDir, "mod")
	proxy := fileURL(filepath.Join(env.GOMODCACHE, "cache", "download"))
	if env.GOPROXY != "" {
		proxy += "," + env.GOPROXY
	}
	runEnv := append(withoutEnv(os.Environ(), "GOMODCACHE", "GOPROXY", "GOFLAGS", "GOWORK"),
		"GOMODCACHE="+cacheDir, "GOPROXY="+proxy, "GOFLAGS=-mod=readonly", "GOWORK=off")
	var graph []byte
	for _, args := range [][]string{
		{"list", "-deps", "--", mainPkg}, // downloads what the build needs
		{"list", "-m", "all"},            // and every go.mod of the graph
	} {
		cmd := exec.CommandContext(ctx, goBin, args...)
		cmd.Dir = root
		cmd.Env = runEnv
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("selfcompile: collecting the host's modules: go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		graph = out
	}
	listed, err := parseModList(graph)
	if err != nil {
		return nil, err
	}
	var mods []module.Version
	for _, m := range listed {
		if m.Replace != nil && m.Replace.Version == "" {
			return nil, fmt.Errorf("selfcompile: module %s is replaced by the directory %s: the bundle cannot carry it; publish it, or move it into the host module", m.Path, m.Replace.Path)
		}
		if mv, ok := m.cached(); ok {
			mods = append(mods, mv)
		}
	}
	return moduleFiles(cacheDir, mods)
}

// warmCache compiles every dependency of the main package the way an
// install does (-trimpath, the module cache collectModules filled, no
// network), into an empty build cache, and lists what that cache then
// holds. Build cache entries do not depend on where GOROOT is.
func warmCache(ctx context.Context, goBin, root, mainPkg, modDir string) ([]bundleFile, error) {
	gocache := filepath.Join(modDir, "gocache")
	env := append(withoutEnv(os.Environ(), "GOMODCACHE", "GOPROXY", "GOFLAGS", "GOWORK", "GOCACHE"),
		"GOMODCACHE="+filepath.Join(modDir, "mod"), "GOPROXY=off", "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "GOCACHE="+gocache)
	cmd := exec.CommandContext(ctx, goBin, "list", "-e", "-deps", "-f", "{{if .DepOnly}}{{.ImportPath}}{{end}}", "--", mainPkg)
	cmd.Dir, cmd.Env = root, env
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("selfcompile: listing the host's dependencies: %w", err)
	}
	deps := strings.Fields(string(out))
	cmd = exec.CommandContext(ctx, goBin, append([]string{"build", "-trimpath", "--"}, deps...)...)
	cmd.Dir, cmd.Env = root, env
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("selfcompile: building the host's dependencies for the warm cache: %v\n%s", err, out)
	}
	var files []bundleFile
	err = filepath.WalkDir(gocache, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(gocache, p)
		files = append(files, bundleFile{name: filepath.ToSlash(rel), src: p})
		return nil
	})
	sortFiles(files)
	return files, err
}

// removeModCache removes a module cache, whose files the go command makes
// read-only.
func removeModCache(goBin, dir string) {
	cmd := exec.Command(goBin, "clean", "-modcache")
	cmd.Env = append(withoutEnv(os.Environ(), "GOMODCACHE"), "GOMODCACHE="+filepath.Join(dir, "mod"))
	cmd.Run()
	os.RemoveAll(dir)
}

// writeFileAtomic writes a file through a temporary file in the same
// directory, synced and renamed into place, so readers see the old file or
// the whole new one.
func writeFileAtomic(name string, write func(*os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".tmp-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
