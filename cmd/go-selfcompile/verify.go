package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"path/filepath"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/spf13/pflag"
)

// runVerify checks, for a vendor's release pipeline, that a binary's
// bundle rebuilds it (selfcompile.CheckBundle): what the binary's first
// plugin install will check on its users' machines. A mismatch is an
// error, so the command exits 1.
func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("go-selfcompile verify", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	ldflags := fs.String("ldflags", "", "the -ldflags the program gives its installs (SelfCompile.LDFlags), as in \"-X main.version=v1.2.0\"")
	cache := fs.String("cache-dir", "", "the cache `DIR` to build in (default: the user's go-selfcompile cache)")
	quiet := fs.BoolP("quiet", "q", false, "print nothing but the verdict and errors")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: go-selfcompile verify [--ldflags FLAGS] [--cache-dir DIR] BINARY")
	}
	bin, err := filepath.Abs(fs.Arg(0))
	if err != nil {
		return err
	}
	sc := selfcompile.SelfCompile{Target: bin, LDFlags: *ldflags, CacheDir: *cache}
	if *quiet {
		sc.Logger = log.New(io.Discard, "", 0)
	}
	res, err := sc.CheckBundle(ctx)
	if err != nil {
		return err
	}
	switch {
	case res.Identical && len(res.NotChecked) == 0:
		fmt.Fprintf(stdout, "%s: its bundle rebuilds it byte for byte (but for the build ID)\n", fs.Arg(0))
		return nil
	case res.Identical:
		fmt.Fprintf(stdout, "%s: its bundle rebuilds it byte for byte where it is loaded into memory; not compared: %s\n", fs.Arg(0), strings.Join(res.NotChecked, "; "))
		return nil
	}
	fmt.Fprintf(stdout, "%s: its Go version, modules and build settings match its bundle; not compared: %s\n", fs.Arg(0), strings.Join(res.NotChecked, "; "))
	return nil
}
