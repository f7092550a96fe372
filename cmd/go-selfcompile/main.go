// Command go-selfcompile writes the bundle that makes a Go program able to
// recompile itself with plugins. Run it from a go:generate line next to
// func main:
//
//	//go:generate go-selfcompile
//
// It writes selfcompile.bundle (the Go toolchain of the go command on
// PATH, the host module's source and its dependency modules, compressed
// with zstd) and selfcompile_bundle.go, which embeds the bundle into the
// program. See the package documentation of
// github.com/shazow/go-selfcompile for the run-time half.
//
// Usage:
//
//	go-selfcompile [flags]
//
// Flags:
//
//	-o, --out PATH      write the bundle to PATH (default selfcompile.bundle in the package directory)
//	    --skip-source   leave the host's own source out; installs fetch it through the module proxy
//	    --warm-cache    build the host's dependencies now and ship the build cache entries
//	    --level LEVEL   compression: fastest, default or best (default best)
//	-C, --dir DIR       the main package directory (default: the current directory)
//	-q, --quiet         print nothing but errors
//	    --version       print the version and exit
//	-h, --help          print this help
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime/debug"
	"text/tabwriter"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/spf13/pflag"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "go-selfcompile:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("go-selfcompile", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.StringP("out", "o", "", "write the bundle to `PATH` (default selfcompile.bundle in the package directory)")
	skipSource := fs.Bool("skip-source", false, "leave the host's own source out; installs fetch it through the module proxy")
	level := fs.String("level", "best", "compression `LEVEL`: fastest, default or best")
	dir := fs.StringP("dir", "C", ".", "the main package `DIR`ectory")
	warm := fs.Bool("warm-cache", false, "build the host's dependencies now and ship the build cache, so a first install compiles only the plugins")
	quiet := fs.BoolP("quiet", "q", false, "print nothing but errors")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: go-selfcompile [flags]\n\nRun from a go:generate line in a main package. Writes %s and %s.\n\nFlags:\n", selfcompile.BundleFile, selfcompile.StubFile)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == pflag.ErrHelp {
			return nil
		}
		return err
	}
	if *version {
		v := "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		fmt.Fprintln(stdout, "go-selfcompile", v)
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q (see --help)", fs.Args())
	}
	lv, err := selfcompile.ParseLevel(*level)
	if err != nil {
		return err
	}
	opts := selfcompile.GenerateOptions{Dir: *dir, Out: *out, SkipSource: *skipSource, Level: lv, WarmCache: *warm}
	if !*quiet {
		opts.Logger = log.New(stderr, "[go-selfcompile] ", 0)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	m, err := selfcompile.Generate(ctx, opts)
	if err != nil {
		return err
	}
	if !*quiet {
		tw := tabwriter.NewWriter(stderr, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "part\tfiles\traw MB\tcompressed MB\t")
		var raw, comp int64
		for _, p := range m.Parts {
			fmt.Fprintf(tw, "%s\t%d\t%.1f\t%.1f\t\n", p.Name, p.Files, mb(p.Size), mb(p.Compressed))
			raw += p.Size
			comp += p.Compressed
		}
		fmt.Fprintf(tw, "total\t\t%.1f\t%.1f\t\n", mb(raw), mb(comp))
		tw.Flush()
	}
	return nil
}

func mb(n int64) float64 { return float64(n) / 1e6 }
