// Command go-selfcompile makes a Go program able to recompile itself with
// plugins. Run it from a go:generate line next to func main, through the
// go tool that the program's go.mod names, so that generator and library
// are the same version:
//
//	go get -tool github.com/shazow/go-selfcompile/cmd/go-selfcompile
//
//	//go:generate go tool go-selfcompile
//
// It writes the package selfcompilebundle beside the main package (the Go
// toolchain of each target, the program's source and its dependency
// modules, compressed with zstd, each bundle embedded by a Go file named
// for its target) and selfcompile_plugins.go, which registers it.
//
// Usage:
//
//	go-selfcompile [flags]
//	go-selfcompile inspect [--json] BINARY...
//	go-selfcompile catalog keygen|sign|verify ...
//	go-selfcompile plugin-template --module PATH [--program NAME] DIR
//	go-selfcompile verify [--ldflags FLAGS] BINARY
//
// Flags:
//
//	    --targets LIST  GOOS/GOARCH pairs to bundle a toolchain for, comma-separated,
//	                    or "release" for linux, darwin and windows on amd64 and arm64
//	                    (default: the go command's GOOS/GOARCH)
//	    --skip-source   leave the program's own source out; installs fetch it through the module proxy
//	    --warm-cache    build the dependencies now for each target and ship the build cache entries
//	                    (what your build cache holds already is taken from it)
//	    --level LEVEL   compression: fastest, default or best (default best)
//	    --bundle embed|beside|fetch
//	                    where the shared and toolchain bundles go: embedded in the binary (default),
//	                    or in a file per target that you ship beside the executable, or that you
//	                    publish and installs fetch into their cache (the binary then embeds only
//	                    their sha256 and size); fetch without --bundle-url: the binary embeds the
//	                    program's source and pins the toolchain (golang.org/toolchain, by its h1:
//	                    hash) and the modules (by go.sum), which installs fetch through the module proxy
//	    --bundle-path PATH
//	                    with --bundle beside: where the binary looks for that file, relative to
//	                    its executable's directory or absolute (default: DIR.selfcompile, DIR
//	                    being the main package's directory name)
//	    --bundle-url URL
//	                    with --bundle fetch: where you publish the files, each under its name
//	                    (an https URL, or a file:// URL or absolute path)
//	    --host-version VERSION
//	                    the program's version, as in v1.2.0, for builds that record none ((devel)):
//	                    the catalog's host constraints are checked against it
//	-C, --dir DIR       the main package directory (default: the current directory)
//	-q, --quiet         print nothing but errors
//	    --version       print the version and exit
//
// inspect prints what a binary carries, for any target, without running
// it: target, Go version, program and version, bundle parts, plugins.
// verify checks, in a release pipeline, that a binary's bundle rebuilds
// it byte for byte, as its first plugin install will on users' machines
// (exit 1 when it does not). plugin-template writes a new plugin module for a plugin's author to fill
// in (docs/plugin-authors.md).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/shazow/go-selfcompile/inspect"
	"github.com/shazow/go-selfcompile/internal/bundle"
	"github.com/shazow/go-selfcompile/internal/cacheprog"
	"github.com/shazow/go-selfcompile/internal/generate"
	"github.com/spf13/pflag"
)

func main() {
	cacheprog.Main() // the go-between of a --warm-cache build, if started as one
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-selfcompile:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "inspect" {
		return runInspect(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "catalog" {
		return runCatalog(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "plugin-template" {
		return runTemplate(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "verify" {
		return runVerify(ctx, args[1:], stdout, stderr)
	}
	fs := pflag.NewFlagSet("go-selfcompile", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	targets := fs.String("targets", "", "GOOS/GOARCH `LIST` to bundle a toolchain for, or \"release\" (default: the go command's GOOS/GOARCH)")
	skipSource := fs.Bool("skip-source", false, "leave the program's own source out; installs fetch it through the module proxy")
	level := fs.String("level", "best", "compression `LEVEL`: fastest, default or best")
	dir := fs.StringP("dir", "C", ".", "the main package `DIR`ectory")
	warm := fs.Bool("warm-cache", false, "build the dependencies now for each target and ship the build cache entries")
	quiet := fs.BoolP("quiet", "q", false, "print nothing but errors")
	version := fs.Bool("version", false, "print the version and exit")
	hostVersion := fs.String("host-version", "", "the program's `VERSION`, as in v1.2.0, for builds that record none ((devel)): the catalog's host constraints are checked against it")
	placement := fs.String("bundle", "embed", "where the bundles go: `embed` in the binary, beside it in a file you ship with it, or fetch: installs fetch a file you publish (with --bundle-url), or else the toolchain and the modules through the module proxy, pinned by hash")
	bundlePath := fs.String("bundle-path", "", "with --bundle beside, where the binary looks for its bundle file: `PATH` relative to its executable's directory, or absolute (default: the main package's directory name + .selfcompile)")
	bundleURL := fs.String("bundle-url", "", "with --bundle fetch, the https `URL` (or file:// URL, or absolute path) under which you publish each target's bundle file")
	vf := vendorFlags(fs)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go-selfcompile [flags]\n       go-selfcompile inspect [--json] BINARY...\n       go-selfcompile catalog keygen|sign|verify ...\n       go-selfcompile plugin-template --module PATH [--program NAME] DIR\n       go-selfcompile verify [--ldflags FLAGS] BINARY\n\nRun from a go:generate line in a main package.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return nil
		}
		return err
	}
	self, _ := debug.ReadBuildInfo()
	if *version {
		fmt.Fprintln(stdout, "go-selfcompile", selfVersion(self))
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	lv, err := bundle.ParseLevel(*level)
	if err != nil {
		return err
	}
	if *placement != "embed" && *placement != "beside" && *placement != "fetch" {
		return fmt.Errorf("--bundle %q: want embed, beside or fetch", *placement)
	}
	if *bundleURL != "" && *placement != "fetch" {
		return fmt.Errorf("--bundle-url is for --bundle fetch")
	}
	if *bundlePath != "" && *placement != "beside" {
		return fmt.Errorf("--bundle-path is for --bundle beside")
	}
	vendor, err := vf.config(*dir)
	if err != nil {
		return err
	}
	opts := generate.Options{Dir: *dir, Targets: parseTargets(*targets), SkipSource: *skipSource, Level: lv, WarmCache: *warm, Self: self, Vendor: vendor, HostVersion: *hostVersion,
		Beside: *placement == "beside" || *bundleURL != "", BundlePath: *bundlePath, BundleURL: *bundleURL, Proxy: *placement == "fetch" && *bundleURL == ""}
	if exe, err := os.Executable(); err == nil {
		opts.CacheProg = exe
	}
	if !*quiet {
		opts.Logger = log.New(stderr, "[go-selfcompile] ", 0)
	}
	res, err := generate.Generate(ctx, opts)
	if err != nil {
		return err
	}
	if !*quiet {
		printResult(stderr, res)
	}
	return nil
}

func parseTargets(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t == "release" {
			out = append(out, generate.ReleaseTargets...)
		} else if t != "" {
			out = append(out, t)
		}
	}
	return out
}

func selfVersion(bi *debug.BuildInfo) string {
	if bi == nil {
		return "(unknown)"
	}
	if bi.Main.Path == "github.com/shazow/go-selfcompile" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/shazow/go-selfcompile" {
			return d.Version
		}
	}
	return bi.Main.Version
}

// printResult prints the table of bundle parts and the large source files.
func printResult(w io.Writer, res *generate.Result) {
	for _, f := range res.Large {
		fmt.Fprintf(w, "[go-selfcompile] large file in the source part: %s\n", f)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "bundle\tpart\tfiles\traw MB\tcompressed MB\t")
	var raw, comp int64
	row := func(name string, m *bundle.Manifest) {
		for _, p := range m.Parts {
			fmt.Fprintf(tw, "%s\t%s\t%d\t%.1f\t%.1f\t\n", name, p.Name, p.Files, mb(p.Size), mb(p.Compressed))
			raw += p.Size
			comp += p.Compressed
		}
	}
	row("shared", res.Shared)
	for _, t := range res.Shared.Targets {
		row(t, res.Toolchains[t])
	}
	fmt.Fprintf(tw, "total\t\t\t%.1f\t%.1f\t\n", mb(raw), mb(comp))
	tw.Flush()
	for _, t := range res.Shared.Targets {
		if side := res.Sides[t]; side != "" && res.BundleURL != "" {
			fmt.Fprintf(w, "[go-selfcompile] publish %s for the %s build at %s\n", side, t, res.BundleURL+"/"+filepath.Base(side))
		} else if side != "" {
			fmt.Fprintf(w, "[go-selfcompile] ship %s with the %s build, as %s beside the executable\n", side, t, res.BundlePath)
		}
	}
	fmt.Fprintf(w, "[go-selfcompile] done in %v\n", res.Elapsed.Round(1e8))
}

func mb(n int64) float64 { return float64(n) / 1e6 }

// runInspect prints what each binary carries.
func runInspect(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("go-selfcompile inspect", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("inspect: name a binary")
	}
	for _, path := range fs.Args() {
		b, err := inspect.ReadFile(path)
		if err != nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "\t")
			if err := enc.Encode(b); err != nil {
				return err
			}
			continue
		}
		fmt.Fprint(stdout, b)
	}
	return nil
}
