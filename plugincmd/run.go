package plugincmd

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/spf13/pflag"
)

// flags are the command's flags; each subcommand accepts those it uses.
type flags struct {
	dryRun, asJSON, keepHostDeps, restart, trim, purge bool
	plugins                                            []string // --plugin, the 2015 spelling of add
}

// Run runs the command with args (what follows "plugin").
func (cmd *Command) Run(ctx context.Context, args []string) error {
	var f flags
	fs := pflag.NewFlagSet("plugin", pflag.ContinueOnError)
	fs.SetOutput(cmd.stderr())
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the plan and change nothing")
	fs.BoolVar(&f.asJSON, "json", false, "print the plan, or the list, as JSON")
	fs.BoolVar(&f.keepHostDeps, "keep-host-deps", false, "refuse a change that moves a module of the program's own build list")
	fs.BoolVar(&f.restart, "restart", false, "after a change, run the new binary in place of this process, with the same arguments")
	fs.BoolVar(&f.trim, "trim", false, "with cache: remove what the current binary does not need")
	fs.BoolVar(&f.purge, "purge", false, "with cache: remove every cache")
	fs.StringArrayVar(&f.plugins, "plugin", nil, "install a plugin (the 2015 spelling of add)")
	if err := fs.Parse(args); err != nil {
		return cmd.usage("%v", err)
	}
	words := fs.Args()
	if len(f.plugins) > 0 {
		words = append([]string{"add"}, append(f.plugins, words...)...)
	}
	if len(words) == 0 {
		return cmd.usage("name a command")
	}
	sc := cmd.SelfCompile // a copy: each run starts from the options
	sc.KeepHostDeps = sc.KeepHostDeps || f.keepHostDeps
	cmd.setOutput(&sc, f.asJSON)
	switch op, rest := words[0], words[1:]; op {
	case "list":
		return cmd.list(f, rest)
	case "cache":
		return cmd.cache(&sc, f, rest)
	case "rollback":
		if err := sc.Rollback(ctx); err != nil {
			return err
		}
		fmt.Fprintln(cmd.stdout(), "Rolled back.")
		return cmd.restartIf(&sc, f.restart)
	case "add", "remove", "upgrade":
		changes, err := cmd.changes(op, rest, !f.asJSON)
		if err != nil {
			return err
		}
		return cmd.apply(ctx, &sc, f, changes)
	}
	return cmd.usage("unknown command %q", words[0])
}

// changes turns the arguments of add, remove or upgrade into changes,
// saying which plugins it installs when say is set.
func (cmd *Command) changes(op string, args []string, say bool) ([]selfcompile.Change, error) {
	kind := map[string]selfcompile.Op{"add": selfcompile.Add, "remove": selfcompile.Remove, "upgrade": selfcompile.Upgrade}[op]
	if len(args) == 0 && op != "upgrade" {
		return nil, cmd.usage("plugin %s: name at least one plugin", op)
	}
	if len(args) == 0 {
		return []selfcompile.Change{{Op: kind}}, nil // upgrade every plugin
	}
	var changes []selfcompile.Change
	for _, spec := range args {
		if op == "add" && say {
			fmt.Fprintln(cmd.stdout(), "Installing plugin:", spec)
		}
		changes = append(changes, selfcompile.Change{Op: kind, Spec: spec})
	}
	return changes, nil
}

// apply plans or makes the change, and prints the plan or the outcome.
func (cmd *Command) apply(ctx context.Context, sc *selfcompile.SelfCompile, f flags, changes []selfcompile.Change) error {
	run := sc.Apply
	if f.dryRun {
		run = sc.Plan
	}
	plan, err := run(ctx, changes...)
	if err != nil {
		return err
	}
	switch {
	case f.asJSON:
		if err := printJSON(cmd.stdout(), plan); err != nil {
			return err
		}
	case f.dryRun:
		fmt.Fprint(cmd.stdout(), plan)
		fmt.Fprintln(cmd.stdout(), "Dry run: nothing changed.")
	default:
		fmt.Fprintln(cmd.stdout(), "Success.")
	}
	return cmd.restartIf(sc, f.restart && !f.dryRun && !plan.Empty())
}

// restartIf makes the new binary take over this process when asked.
func (cmd *Command) restartIf(sc *selfcompile.SelfCompile, restart bool) error {
	if !restart {
		return nil
	}
	fmt.Fprintln(cmd.stdout(), "Restarting.")
	return sc.Restart()
}

// list prints the plugins of the running binary.
func (cmd *Command) list(f flags, rest []string) error {
	if len(rest) > 0 {
		return cmd.usage("plugin list takes no arguments")
	}
	plugins := selfcompile.Installed()
	if f.asJSON {
		if plugins == nil {
			plugins = []selfcompile.PluginInfo{}
		}
		return printJSON(cmd.stdout(), plugins)
	}
	for _, p := range plugins {
		fmt.Fprintln(cmd.stdout(), p.Describe())
	}
	return nil
}

// cache reports, trims or purges what installs keep.
func (cmd *Command) cache(sc *selfcompile.SelfCompile, f flags, rest []string) error {
	switch {
	case len(rest) > 0 || (f.trim && f.purge):
		return cmd.usage("plugin cache takes --trim or --purge, and no arguments")
	case f.purge:
		return sc.PurgeCache()
	case f.trim:
		freed, err := sc.TrimCache(context.Background())
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.stdout(), "Freed %.1f MB.\n", float64(freed)/1e6)
	}
	entries, err := sc.CacheUsage()
	if err != nil {
		return err
	}
	var total int64
	for _, e := range entries {
		fmt.Fprintf(cmd.stdout(), "%-9s %8.1f MB  %s\n", e.Kind, float64(e.Size)/1e6, e.Path)
		total += e.Size
	}
	fmt.Fprintf(cmd.stdout(), "%-9s %8.1f MB\n", "total", float64(total)/1e6)
	return nil
}

func printJSON(w interface{ Write([]byte) (int, error) }, v any) error {
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, strings.TrimSpace(string(data)))
	return err
}
