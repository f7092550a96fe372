package selfcompile

// The check stage: before an install first changes a release build, the
// program is built again from its bundle, as the release was, and
// compared with the executable. A bundle that does not rebuild it (the
// source changed after go generate, other flags, another Go) would have the
// install replace the vendor's program with another: the install is
// refused with ErrStaleBundle, the executable unchanged. The verdict is
// remembered by the executable's sha256, so it costs one build per
// release.

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/identity"
	"github.com/shazow/go-selfcompile/internal/samebin"
)

// BundleCheck is what the check of an executable's bundle found: that the
// bundle rebuilds it, byte for byte, or what it could not compare.
type BundleCheck struct {
	// Identical is true when the rebuild is the executable, byte for byte
	// but for the go command's build ID (a hash of the build's inputs,
	// among them the checkout that only the release's build saw), or at
	// least where the system loads it into memory, which NotChecked then
	// says.
	Identical bool `json:"identical"`
	// NotChecked says what could not be compared, where the bytes cannot
	// be expected to match (a build without -trimpath, cgo compiled by
	// another C compiler, a signed release); the Go version, the modules
	// and the build settings were compared all the same.
	NotChecked []string `json:"notChecked,omitempty"`
}

// CheckBundle checks that the executable's bundle rebuilds it: it builds
// the program from the bundle as the executable was built (its settings,
// LDFlags, the version and checkout its build info records) and compares
// the two, byte for byte but for the go command's build ID. When they
// differ it returns a *StaleBundleError (ErrStaleBundle) saying how; a
// result that is not Identical names what could not be compared. Apply
// runs the same check before it first changes a release build, once per
// release; a vendor runs it on a release before shipping it
// (go-selfcompile verify). It changes nothing but the cache.
func (c *SelfCompile) CheckBundle(ctx context.Context) (*BundleCheck, error) {
	r, l, _, err := c.prepare(ctx, Change{}, runOptions{})
	if err != nil {
		return nil, apiErr(err)
	}
	defer r.end()
	bc, err := l.unresolved(nil).bundleCheck(ctx)
	return bc, apiErr(canceled(ctx, r.current, err))
}

// checkBundle is the check stage of Apply, which runs it before it first
// changes a release build (one without plugins: rebuilt binaries were
// made from their bundle): it takes the resolution and returns an error
// unless the bundle rebuilds the executable. A bundle that does not is
// refused with a *StaleBundleError.
func (res *resolution) checkBundle(ctx context.Context) error {
	bc, err := res.bundleCheck(ctx)
	if err != nil {
		return err
	}
	if !bc.Identical || len(bc.NotChecked) > 0 {
		res.c.logf("Could not check that %s is what its bundle builds: %s. Its Go version, modules and build settings match the bundle's", res.bin.Path, strings.Join(bc.NotChecked, "; "))
	}
	return nil
}

// checkVersion is the version of the check, in the key of its verdicts:
// a library that checks otherwise checks again.
const checkVersion = 1

// verdict is what the cache remembers of a check: its result, or what
// differs.
type verdict struct {
	BundleCheck
	Stale []string `json:"stale,omitempty"`
}

// bundleCheck checks the executable's bundle, or takes the verdict
// remembered for an executable of the same bytes and the same options.
func (res *resolution) bundleCheck(ctx context.Context) (*BundleCheck, error) {
	done := res.stage(StageCheck)
	sum, err := fsutil.SHA256(res.bin.Path)
	if err != nil {
		return nil, &TargetError{Path: res.bin.Path, Err: err}
	}
	key := sha256.Sum256(fmt.Appendf(nil, "%s\n%s\n%v\n%d", sum, res.c.LDFlags, res.c.Sign != nil, checkVersion)) // the verdict holds for these options
	memo := filepath.Join(res.cache, checkedDir, hex.EncodeToString(key[:]))
	var v verdict
	if data, err := os.ReadFile(memo); err != nil || json.Unmarshal(data, &v) != nil {
		if v, err = res.compareRebuild(ctx); err != nil {
			return nil, err
		}
		if data, err := json.Marshal(v); err == nil && os.MkdirAll(filepath.Dir(memo), 0o700) == nil {
			fsutil.WriteAtomic(memo, 0o600, func(w io.Writer) error { _, err := w.Write(data); return err })
		}
	}
	if len(v.Stale) > 0 {
		return nil, &StaleBundleError{Path: res.bin.Path, Differences: v.Stale}
	}
	done()
	return &v.BundleCheck, nil
}

// compareRebuild builds the program from the bundle as the executable was
// built (its stub, go.mod and settings, its identity) and compares the
// two.
func (res *resolution) compareRebuild(ctx context.Context) (verdict, error) {
	var v verdict
	if res.bin.Shared.Manifest.SkipSource {
		v.NotChecked = []string{"the program's code: its bundle carries no source (--skip-source)"}
		return v, nil
	}
	rebuilt, err := res.buildAsReleased(ctx)
	if err != nil {
		return v, err
	}
	bi, err := buildinfo.ReadFile(rebuilt)
	if err != nil {
		return v, err
	}
	notChecked := res.unreproducible()
	if v.Stale = buildInfoDiffs(res.bin.Build, bi, notChecked); len(v.Stale) > 0 {
		return v, nil
	}
	same, err := samebin.Same(res.bin.Path, rebuilt)
	switch {
	case err != nil:
		return v, err
	case same:
		v.Identical = true
	default:
		v.Stale = codeDiffs(res.bin.Path, rebuilt, res.bin.Shared.Manifest.MainPackage, notChecked)
		if len(v.Stale) > 0 {
			return v, nil
		}
		if loaded, _ := samebin.SameLoaded(res.bin.Path, rebuilt); loaded {
			v.Identical = true
			v.NotChecked = []string{"the debug information (DWARF), which is not loaded into memory and which this machine's C compiler writes otherwise"}
		} else {
			v.NotChecked = slices.Compact(slices.Sorted(maps.Values(notChecked)))
		}
	}
	return v, nil
}

// buildAsReleased builds the program from the restored source as the
// release was: the generator's stub and the host's own go.mod (copies, the
// install's go.mod being already changed by resolve), with the executable's
// settings and identity. It returns the new binary's path, in the workdir.
func (res *resolution) buildAsReleased(ctx context.Context) (string, error) {
	dir := filepath.Join(res.workdir, "check")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	orig := filepath.Join(res.dirs.cachedSrc, filepath.FromSlash(res.bin.Shared.Manifest.ModuleDir))
	for _, name := range []string{"go.mod", "go.sum"} {
		if err := fsutil.CopyFile(filepath.Join(orig, name), filepath.Join(dir, name), 0o600); err != nil && !os.IsNotExist(err) {
			return "", diskError(err, res.workdir)
		}
	}
	if err := res.writeBundles(); err != nil {
		return "", diskError(err, res.workdir)
	}
	out := filepath.Join(dir, filepath.Base(res.bin.Path))
	args, g, err := res.buildArgs(ctx)
	if err != nil {
		return "", err
	}
	res.c.logf("Checking that the bundle rebuilds this program")
	args = append(args, "-modfile="+filepath.Join(dir, "go.mod"), "-o", out, "./"+res.bin.Shared.Manifest.MainDir)
	stopCount := res.countPackages(ctx)
	_, err = g.Stream(ctx, res.buildProgress(ctx, StageCheck), args...)
	stopCount()
	if err != nil {
		return "", res.goError(err)
	}
	return out, nil
}

// unreproducible returns, by build setting, what of the executable a
// rebuild here cannot be expected to reproduce byte for byte, said for a
// person; keys are the settings that may differ for that reason.
func (r *run) unreproducible() map[string]string {
	out := map[string]string{}
	set := settingsOf(r.bin.Build)
	if set["-trimpath"] != "true" {
		out["-trimpath"] = "the program's code: it was built without -trimpath, so it holds the paths of the machine that built it"
		out["-ldflags"] = out["-trimpath"]
	}
	if set["CGO_ENABLED"] == "1" {
		why := "the code that cgo compiled: this machine's C compiler is not the one the release was built with"
		if cCompiler() == "" {
			why = "the code that cgo compiled: this machine has no C compiler, so the rebuild has cgo off"
		}
		for k := range set {
			if strings.HasPrefix(k, "CGO_") {
				out[k] = why
			}
		}
	}
	if r.c.Sign != nil {
		out["sign"] = "the program's bytes: the release was signed after its build (SelfCompile.Sign)"
	}
	return out
}

// buildInfoDiffs says how the build info of the rebuild differs from the
// executable's: the Go version, the modules and the build settings, but
// for those that unreproducible says may differ.
func buildInfoDiffs(was, now *debug.BuildInfo, mayDiffer map[string]string) []string {
	var diffs []string
	if was.GoVersion != now.GoVersion {
		diffs = append(diffs, fmt.Sprintf("the binary was built with %s and its bundle carries %s", was.GoVersion, now.GoVersion))
	}
	if was.Path != now.Path {
		diffs = append(diffs, fmt.Sprintf("the binary is a build of %s and the bundle's source builds %s", was.Path, now.Path))
	}
	diffs = append(diffs, moduleDiffs(was.Deps, now.Deps)...)
	a, b := settingsOf(was), settingsOf(now)
	for _, k := range slices.Sorted(maps.Keys(mapUnion(a, b))) {
		if _, ok := mayDiffer[k]; !ok && a[k] != b[k] && !identity.IsVCS(k) {
			diffs = append(diffs, fmt.Sprintf("the build setting %s is %q in the binary and %q in the rebuild", k, a[k], b[k]))
		}
	}
	return diffs
}

// moduleDiffs says which modules the two builds have at other versions,
// or only one of them has.
func moduleDiffs(was, now []*debug.Module) []string {
	key := func(m *debug.Module) string {
		if m.Replace != nil {
			m = m.Replace
		}
		return m.Version + " " + m.Sum
	}
	a, b := map[string]string{}, map[string]string{}
	for _, m := range was {
		a[m.Path] = key(m)
	}
	for _, m := range now {
		b[m.Path] = key(m)
	}
	var diffs []string
	for _, p := range slices.Sorted(maps.Keys(mapUnion(a, b))) {
		if a[p] != b[p] {
			diffs = append(diffs, fmt.Sprintf("the module %s is %s in the binary and %s in the bundle", p, orNone(strings.TrimSpace(a[p])), orNone(strings.TrimSpace(b[p]))))
		}
	}
	return diffs
}

// codeDiffs says how two builds whose build info is the same differ, if
// they differ in what the rebuild controls: the symbol table or the DWARF
// that -ldflags "-s -w" strip, or the Go code of some packages (their
// functions' sizes), or the program's bytes as the system loads them.
// When the bytes could not be expected to match (unreproducible: paths, a
// signature, another C compiler, unless the C code has the same shape),
// the loaded bytes are not counted: they differ anyway.
func codeDiffs(was, now, mainPkg string, unreproducible map[string]string) []string {
	mayDiffer := len(unreproducible) > 0
	if mayDiffer && !slices.ContainsFunc(slices.Collect(maps.Keys(unreproducible)), func(k string) bool { return !strings.HasPrefix(k, "CGO_") }) {
		same, ok := samebin.SameCSizes(was, now) // no C code at all, or the same C compiler's
		mayDiffer = !ok || !same
	}
	s1, w1, err1 := samebin.Stripped(was)
	s2, w2, err2 := samebin.Stripped(now)
	if err1 == nil && err2 == nil && (s1 != s2 || w1 != w2) {
		return []string{`the binary was linked with other -ldflags (it lacks the symbol table or the DWARF that "-s -w" strip), which a -trimpath binary does not record: give the rebuild the release's -ldflags (SelfCompile.LDFlags; go-selfcompile verify --ldflags)`}
	}
	funcs, err := samebin.FuncDiffs(was, now)
	if err == nil && len(funcs) > 0 {
		return []string{"the Go code of " + funcPackages(funcs, mainPkg) + " differs from what the bundle's source builds: the source changed after go generate ran"}
	}
	if loaded, _ := samebin.SameLoaded(was, now); mayDiffer || loaded {
		return nil
	}
	what := "its data differs from what the bundle builds (its Go code is the same)"
	if err != nil { // a format whose Go function table is not found (PE)
		what = "its bytes differ from what the bundle builds"
	}
	return []string{what + ": its source changed after go generate ran (a string, a constant, an embedded file), or it was built with other -ldflags values (-X) than its installs give the rebuild (SelfCompile.LDFlags)"}
}

// funcPackages names the packages of the functions, and the first
// functions: "package example.com/cmd/x (main.main, main.greet)", the
// main package by its import path, mainPkg.
func funcPackages(funcs []string, mainPkg string) string {
	var pkgs []string
	for _, f := range funcs {
		p := funcPackage(f)
		if p == "main" {
			p = mainPkg
		}
		if !slices.Contains(pkgs, p) {
			pkgs = append(pkgs, p)
		}
	}
	word := "package "
	if len(pkgs) > 1 {
		word = "packages "
	}
	return fmt.Sprintf("%s%s (%s)", word, strings.Join(firstOf(pkgs, 5), ", "), strings.Join(firstOf(funcs, 5), ", "))
}

// funcPackage returns the import path of a Go function's package, from
// its symbol name ("example.com/a/b.(*T).M" is in "example.com/a/b").
func funcPackage(name string) string {
	name, _, _ = strings.Cut(name, "[") // type arguments name other packages
	slash := strings.LastIndex(name, "/") + 1
	if dot := strings.Index(name[slash:], "."); dot >= 0 {
		return name[:slash+dot]
	}
	return name
}

// firstOf returns the first n of list, with "..." for the rest.
func firstOf(list []string, n int) []string {
	if len(list) <= n {
		return list
	}
	return append(slices.Clip(list[:n]), fmt.Sprintf("and %d more", len(list)-n))
}

// settingsOf returns a build info's settings by key.
func settingsOf(bi *debug.BuildInfo) map[string]string {
	m := map[string]string{}
	for _, s := range bi.Settings {
		m[s.Key] = s.Value
	}
	return m
}

// mapUnion returns the keys of a and b.
func mapUnion(a, b map[string]string) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}
