// Command greeter is the classic Go plugin example's driver as a
// go-selfcompile host: a shell that greets in the languages its plugins
// register, and gains plugins while it runs.
//
//	$ greeter
//	> greet english
//	Hello Universe
//	> load chi            # built for this program, checked, loaded live, and compiled in for the next start
//	loaded github.com/shazow/go-selfcompile/example/greeter/chi
//	> greet chinese
//	你好宇宙
//
// Its commands: greet LANGUAGE; load SPEC (eng and chi name its own
// plugins); build SPEC, which prints the shared object a load would open
// and its sha256; open FILE [SHA256], which opens a Go plugin file and
// registers its exported Greeter, the classic driver's way, checking its
// sha256 when one is given; list; quit. "greeter plugin ..." is the plugin
// command of package plugincmd. A load that cannot be done in this process
// (a plugin it has, another module version than its own, no cgo, no C
// compiler) says how to compile the plugin in instead. It needs cgo, as
// every program that opens Go plugins does.
package main

//go:generate go tool go-selfcompile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"plugin"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	_ "github.com/shazow/go-selfcompile/example/greeter/eng" // compiled in; chi is not
	"github.com/shazow/go-selfcompile/example/greeter/greeters"
	"github.com/shazow/go-selfcompile/live"
	"github.com/shazow/go-selfcompile/plugincmd"
)

// short names the greeter's own plugins.
var short = map[string]string{
	"eng": "github.com/shazow/go-selfcompile/example/greeter/eng",
	"chi": "github.com/shazow/go-selfcompile/example/greeter/chi",
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "plugin" {
		plugincmd.Main(os.Args[2:], selfcompile.SelfCompile{})
	}
	loader := &live.Loader{Durable: true}
	in := bufio.NewScanner(os.Stdin)
	for fmt.Print("> "); in.Scan(); fmt.Print("> ") {
		f := strings.Fields(in.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "quit" {
			return
		}
		if err := do(loader, f[0], f[1:]); err != nil {
			fmt.Println("error:", err)
		}
	}
}

// do runs one command of the shell.
func do(loader *live.Loader, cmd string, args []string) error {
	ctx := context.Background()
	switch {
	case cmd == "greet" && len(args) == 1:
		g, ok := greeters.Get(args[0])
		if !ok {
			return fmt.Errorf("no greeter for %s (have %s)", args[0], strings.Join(greeters.Languages(), ", "))
		}
		fmt.Println(g.Greet())
	case cmd == "load" && len(args) == 1:
		p, err := loader.Load(ctx, spec(args[0]))
		if cannotLoadLive(err) && !have(spec(args[0])) {
			fmt.Printf("%s cannot be loaded into this process; to have it, run: %s plugin add %s, and restart\n", args[0], filepath.Base(os.Args[0]), spec(args[0]))
		}
		if err != nil {
			return err
		}
		fmt.Println("loaded", p.Info.ImportPath)
	case cmd == "build" && len(args) == 1:
		gp, err := loader.SelfCompile.BuildGoPlugin(ctx, spec(args[0]), live.Loaded())
		if err != nil {
			return err
		}
		fmt.Println("built", gp.Path, gp.Sum)
	case cmd == "open" && (len(args) == 1 || len(args) == 2):
		return open(args)
	case cmd == "list":
		fmt.Println("greeters:", strings.Join(greeters.Languages(), " "))
		for _, p := range selfcompile.Installed() {
			fmt.Println("compiled in:", p.Describe())
		}
		for _, p := range live.Loaded() {
			fmt.Println("loaded live:", p.Describe())
		}
	default:
		return fmt.Errorf("unknown command; try greet LANGUAGE, load SPEC, build SPEC, open FILE [SHA256], list or quit")
	}
	return nil
}

// have reports whether the program has the plugin that spec names,
// compiled in or loaded live, at the version it names (at any, for none):
// then an install would not change it either.
func have(spec string) bool {
	path, version, _ := strings.Cut(spec, "@")
	for _, p := range append(selfcompile.Installed(), live.Loaded()...) {
		if p.ImportPath == path && (version == "" || version == p.Version) {
			return true
		}
	}
	return false
}

// cannotLoadLive reports whether err says that a plugin cannot be loaded
// into this process, although an install could compile it in.
func cannotLoadLive(err error) bool {
	for _, e := range []error{live.ErrLoaded, live.ErrModuleMismatch, live.ErrNoGoPlugins, live.ErrNoCCompiler} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func spec(name string) string {
	if s, ok := short[name]; ok {
		return s
	}
	return name
}

// open opens a Go plugin file and registers the Greeter it exports, as
// the classic driver does; with a sha256, through live.Open, which checks
// it first.
func open(args []string) error {
	var sym plugin.Symbol
	if len(args) == 2 {
		p, err := live.Open(&selfcompile.GoPlugin{Path: args[0], Sum: args[1]})
		if err != nil {
			return err
		}
		g, err := live.Lookup[greeters.Greeter](p, "Greeter")
		if err != nil {
			return err
		}
		fmt.Println("opened:", g.Greet())
		return nil
	}
	p, err := plugin.Open(args[0])
	if err != nil {
		return err
	}
	if sym, err = p.Lookup("Greeter"); err != nil {
		return err
	}
	g, err := live.As[greeters.Greeter](sym, "Greeter")
	if err != nil {
		return err
	}
	fmt.Println("opened:", g.Greet())
	return nil
}
