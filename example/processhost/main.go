// Command processhost is a host of process plugins: greeters that run as
// programs of their own, built on the user's machine from their source
// with the toolchain the host carries, and started by the host when it
// needs them (package processplugin).
//
//	$ processhost plugin add --process ./plugins/hello
//	...
//	$ processhost greet hello world
//	hello: hello world, from a process plugin built with pflag v1.0.6
//	$ processhost serve      # reads "greet NAME WHO" and "list" lines
//
// A running "processhost serve" finds a plugin installed meanwhile, and
// goes on serving when a plugin panics: the error names it, and the next
// call starts it again.
package main

//go:generate go tool go-selfcompile

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/example/processhost/greeter"
	"github.com/shazow/go-selfcompile/plugincmd"
	"github.com/shazow/go-selfcompile/processplugin"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		plugincmd.Main(os.Args[2:], selfcompile.SelfCompile{LDFlags: "-X main.version=" + version})
	}
	fs := pflag.NewFlagSet("processhost", pflag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: processhost greet PLUGIN WHO | serve | list | plugin ...")
	}
	fs.Parse(os.Args[1:])
	m := &processplugin.Manager{Handshake: greeter.Handshake, Plugins: greeter.Plugins}
	defer m.Close()
	args := fs.Args()
	switch {
	case len(args) == 3 && args[0] == "greet":
		out, err := greet(m, args[1], args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			m.Close()
			os.Exit(1)
		}
		fmt.Println(out)
	case len(args) == 1 && args[0] == "list":
		list(m)
	case len(args) == 1 && args[0] == "serve":
		serve(m)
	default:
		fs.Usage()
		os.Exit(2)
	}
}

// greet asks the plugin name to greet who.
func greet(m *processplugin.Manager, name, who string) (out string, err error) {
	err = processplugin.Call(m, name, greeter.Kind, func(g greeter.Greeter) error {
		out, err = g.Greet(who)
		return err
	})
	return name + ": " + out, err
}

// list prints the process plugins installed now.
func list(m *processplugin.Manager) {
	plugins, err := m.List()
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	var names []string
	for _, p := range plugins {
		names = append(names, p.Name)
	}
	fmt.Println("plugins:", strings.Join(names, " "))
}

// serve answers the lines of standard input until it ends: "greet NAME
// WHO" and "list". A failed greeting is printed, and serving goes on.
func serve(m *processplugin.Manager) {
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch f := strings.Fields(in.Text()); {
		case len(f) == 3 && f[0] == "greet":
			out, err := greet(m, f[1], f[2])
			if err != nil {
				fmt.Println("error:", err)
				continue
			}
			fmt.Println(out)
		case len(f) == 1 && f[0] == "list":
			list(m)
		default:
			fmt.Println("error: say greet NAME WHO, or list")
		}
	}
}
