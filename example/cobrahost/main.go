// Command cobrahost is a cobra program that installs plugins into itself:
// a plugin adds a command by calling commands.Register from its init.
//
//	$ cobrahost greet
//	hello from cobrahost
//	$ cobrahost plugin add ./hello-plugin
//	...
//	$ cobrahost hello
//	hello from a plugin
//
// The plugin command comes from package cobraplugin, the cobra adapter of
// package plugincmd: real subcommands, help, and shell completion of the
// subcommands, their flags, the installed plugins and the catalog's names
// ("cobrahost completion bash"). Wiring it takes the lines at the end of
// main.
package main

//go:generate go tool go-selfcompile

import (
	"fmt"
	"os"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/example/cobrahost/commands"
	"github.com/shazow/go-selfcompile/plugincmd"
	"github.com/shazow/go-selfcompile/plugincmd/cobraplugin"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	root := &cobra.Command{Use: "cobrahost", Short: "A cobra program with plugins", Version: version, SilenceUsage: true}
	root.AddCommand(&cobra.Command{Use: "greet", Short: "Say hello", Run: func(*cobra.Command, []string) {
		fmt.Println("hello from cobrahost")
	}})
	for _, c := range commands.All() {
		root.AddCommand(c)
	}

	root.AddCommand(cobraplugin.Command(selfcompile.SelfCompile{LDFlags: "-X main.version=" + version}))
	if err := root.Execute(); err != nil {
		os.Exit(plugincmd.ExitCode(err))
	}
}
