// Command example-abinary is a program that can install plugins into
// itself, without a Go installation on the machine it runs on.
//
//	$ example-abinary
//	Just doing binary things
//	$ example-abinary --plugin github.com/shazow/go-selfcompile/example/aplugin
//	Installing plugin: github.com/shazow/go-selfcompile/example/aplugin
//	...
//	Success.
//	$ example-abinary
//	aplugin activated.
//	Just doing binary things
//
// The plugin commands:
//
//	example-abinary plugin add SPEC... [--dry-run] [--keep-host-deps]
//	example-abinary plugin remove IMPORTPATH... [--dry-run]
//	example-abinary plugin upgrade [IMPORTPATH[@VERSION]...] [--dry-run] [--keep-host-deps]
//	example-abinary plugin list
//	example-abinary plugin rollback
//	example-abinary plugin cache [--purge]
//
// A SPEC is an import path, IMPORTPATH@VERSION (a semantic version,
// "latest", a pseudo-version or a commit), or a local directory (starting
// with ./, ../ or /). --plugin SPEC is the 2015 spelling of plugin add.
package main

//go:generate go-selfcompile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "plugin" {
		return pluginCommand(args[1:])
	}
	fs := pflag.NewFlagSet("example-abinary", pflag.ContinueOnError)
	plugins := fs.StringArray("plugin", nil, "install a plugin: an import path, `PATH@VERSION`, or a local directory (repeatable)")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case *showVersion:
		fmt.Println("example-abinary", version)
	case len(*plugins) > 0:
		return pluginCommand(append([]string{"add"}, *plugins...))
	default:
		fmt.Println("Just doing binary things")
	}
	return nil
}

// pluginCommand runs "plugin add|remove|upgrade|list|rollback".
func pluginCommand(args []string) error {
	if len(args) == 0 {
		return errors.New("usage: example-abinary plugin add|remove|upgrade|list|rollback|cache [ARGS] (see the package documentation)")
	}
	fs := pflag.NewFlagSet("plugin "+args[0], pflag.ContinueOnError)
	dryRun := fs.Bool("dry-run", false, "print the plan and change nothing")
	keepHostDeps := fs.Bool("keep-host-deps", false, "refuse a change that moves the version of one of the program's own dependencies")
	purge := fs.Bool("purge", false, "with cache: remove the toolchain, build and module caches")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := selfcompile.SelfCompile{
		AutoCleanup:  true,
		DryRun:       *dryRun,
		KeepHostDeps: *keepHostDeps,
		// -trimpath binaries do not record -ldflags: pass the -X value on.
		LDFlags: "-X main.version=" + version,
	}

	var changes []selfcompile.Change
	switch op := args[0]; op {
	case "list":
		for _, p := range selfcompile.Installed() {
			fmt.Println(p.Describe())
		}
		return nil
	case "cache":
		if *purge {
			return c.PurgeCache()
		}
		entries, err := c.CacheUsage()
		if err != nil {
			return err
		}
		for _, e := range entries {
			fmt.Printf("%-9s %8.1f MB  %s\n", e.Kind, float64(e.Size)/1e6, e.Path)
		}
		return nil
	case "rollback":
		if err := c.Rollback(ctx); err != nil {
			return err
		}
		fmt.Println("Rolled back.")
		return nil
	case "add", "remove":
		if fs.NArg() == 0 {
			return fmt.Errorf("plugin %s: name at least one plugin", op)
		}
		for _, spec := range fs.Args() {
			if op == "add" {
				fmt.Println("Installing plugin:", spec)
				changes = append(changes, selfcompile.Change{Op: selfcompile.Add, Spec: spec})
			} else {
				changes = append(changes, selfcompile.Change{Op: selfcompile.Remove, Spec: spec})
			}
		}
	case "upgrade":
		if fs.NArg() == 0 {
			changes = append(changes, selfcompile.Change{Op: selfcompile.Upgrade})
		}
		for _, spec := range fs.Args() {
			changes = append(changes, selfcompile.Change{Op: selfcompile.Upgrade, Spec: spec})
		}
	default:
		return fmt.Errorf("plugin: unknown command %q (add, remove, upgrade, list, rollback, cache)", op)
	}
	plan, err := c.Apply(ctx, changes...)
	if err != nil {
		return err
	}
	if *dryRun {
		fmt.Print(plan)
		fmt.Println("Dry run: nothing changed.")
		return nil
	}
	fmt.Println("Success.")
	return nil
}
