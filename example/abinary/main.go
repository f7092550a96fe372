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
// "example-abinary plugin ..." is the plugin command of package plugincmd:
// add, remove, upgrade, list, rollback and cache.
package main

//go:generate go tool go-selfcompile

import (
	"flag"
	"fmt"
	"os"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/plugincmd"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 && (os.Args[1] == "plugin" || strings.HasPrefix(os.Args[1], "--plugin")) {
		args := os.Args[1:]
		if args[0] == "plugin" {
			args = args[1:]
		}
		// -trimpath binaries do not record -ldflags: pass the -X value on.
		plugincmd.Main(args, selfcompile.SelfCompile{LDFlags: "-X main.version=" + version})
	}
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println("example-abinary", version)
		return
	}
	fmt.Println("Just doing binary things")
}
