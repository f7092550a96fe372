package plugincmd

import (
	"context"
	"errors"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
)

// completionTime bounds the work of a completion: a shell waits for it.
const completionTime = 2 * time.Second

// Complete returns the words that may follow args, the positional
// arguments typed so far, on the command line of the subcommand name, and
// begin with prefix: for remove and upgrade, the installed plugins' import
// paths; for add and info, the names in the vendor's catalog, as the
// program carries it or this machine last verified it (Complete does not
// use the network). Shell completion (package cobraplugin) calls it.
func (cmd *Command) Complete(ctx context.Context, name string, args []string, prefix string) []string {
	ctx, cancel := context.WithTimeout(ctx, completionTime)
	defer cancel()
	sc := cmd.SelfCompile
	sc.Logger = log.New(io.Discard, "", 0)
	var words []string
	switch {
	case name == "remove" || name == "upgrade":
		words = installedPaths(&sc)
	case name == "add" || name == "info" && len(args) == 0:
		words = catalogNames(ctx, &sc)
	}
	var out []string
	for _, w := range words {
		if strings.HasPrefix(w, prefix) && !slices.Contains(args, w) {
			out = append(out, w)
		}
	}
	return out
}

// installedPaths returns the import paths of the plugins plugin list
// shows.
func installedPaths(sc *selfcompile.SelfCompile) []string {
	plugins, err := sc.Plugins()
	if errors.Is(err, selfcompile.ErrNoBundle) {
		plugins = selfcompile.Installed()
	}
	var paths []string
	for _, p := range plugins {
		paths = append(paths, p.ImportPath)
	}
	return paths
}

// catalogNames returns the names of the vendor catalog's plugins, from the
// catalog the program carries or the newest this machine verified: with
// GOPROXY=off, the user's word for no network, while it loads.
func catalogNames(ctx context.Context, sc *selfcompile.SelfCompile) []string {
	if old, set := os.LookupEnv("GOPROXY"); old != "off" {
		os.Setenv("GOPROXY", "off")
		defer func() {
			if set {
				os.Setenv("GOPROXY", old)
			} else {
				os.Unsetenv("GOPROXY")
			}
		}()
	}
	cat, _, err := sc.Catalog(ctx)
	if err != nil || cat == nil {
		return nil
	}
	var names []string
	for _, p := range cat.Plugins {
		names = append(names, p.Name)
	}
	return names
}
