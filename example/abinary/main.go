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
package main

//go:generate go-selfcompile

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	plugins := pflag.StringArray("plugin", nil, "install a plugin: an import path, `PATH@VERSION`, or a local directory (repeatable)")
	showVersion := pflag.Bool("version", false, "print the version and exit")
	pflag.Parse()

	switch {
	case *showVersion:
		fmt.Println("example-abinary", version)
	case len(*plugins) > 0:
		if err := install(*plugins); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Println("Success.")
	default:
		fmt.Println("Just doing binary things")
	}
}

func install(plugins []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	c := selfcompile.SelfCompile{
		AutoCleanup: true,
		// -trimpath binaries do not record -ldflags: pass the -X value on.
		LDFlags: "-X main.version=" + version,
	}
	for _, p := range plugins {
		fmt.Println("Installing plugin:", p)
		c.Plugin(p)
	}
	return c.CompileContext(ctx)
}
