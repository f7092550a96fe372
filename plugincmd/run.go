package plugincmd

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/fsutil"
)

// subcommand is one of the command's subcommands: the arguments and flags
// it takes, and what it does.
type subcommand struct {
	args  string                               // its arguments, for usage lines
	flags func(*pflag.FlagSet, *options)       // the flags it accepts
	run   func(*Command, *run, []string) error // what it does
}

// options are the values of the flags; each subcommand defines those it
// takes.
type options struct {
	dryRun, asJSON, keepHostDeps, restart, trim, purge, allowUnlisted, lock, process bool
	output                                                                           string
}

// run is one run of the command.
type run struct {
	ctx  context.Context
	sc   selfcompile.SelfCompile
	opts options
	out  *output // --output, if given
}

func changeFlags(fs *pflag.FlagSet, o *options) {
	fs.BoolVar(&o.dryRun, "dry-run", false, "print the plan and change nothing")
	fs.BoolVar(&o.asJSON, "json", false, "print the plan as JSON, and nothing else on standard output")
	fs.BoolVar(&o.restart, "restart", false, "after a change, run the new binary in place of this process, with the same arguments")
}

func keepFlag(fs *pflag.FlagSet, o *options) {
	fs.BoolVar(&o.keepHostDeps, "keep-host-deps", false, "refuse a change that moves a module of the program's own build list")
}

func addFlags(fs *pflag.FlagSet, o *options) {
	changeFlags(fs, o)
	keepFlag(fs, o)
	fs.BoolVar(&o.allowUnlisted, "allow-unlisted", false, "install plugins the vendor's catalog does not list, where its policy lets you")
}

func processFlag(fs *pflag.FlagSet, o *options) {
	fs.BoolVar(&o.process, "process", false, "a process plugin: a program of its own that the program starts (for remove, upgrade and rollback, give its name)")
}

// subcommands are the command's subcommands, by name (set in init: they
// refer to the usage that lists them).
var subcommands map[string]subcommand

func init() {
	subcommands = map[string]subcommand{
		"add": {"SPEC...", func(fs *pflag.FlagSet, o *options) { addFlags(fs, o); processFlag(fs, o) }, (*Command).add},
		"remove": {"IMPORTPATH...", func(fs *pflag.FlagSet, o *options) { changeFlags(fs, o); processFlag(fs, o) }, func(cmd *Command, r *run, args []string) error {
			if len(args) == 0 {
				return cmd.usage("remove", "name at least one plugin")
			}
			if r.opts.process {
				return cmd.removeProcess(r, args)
			}
			return cmd.apply(r, selfcompile.Change{Remove: args})
		}},
		"upgrade": {"[IMPORTPATH[@VERSION]|FOLDER...]", func(fs *pflag.FlagSet, o *options) { addFlags(fs, o); processFlag(fs, o) }, func(cmd *Command, r *run, args []string) error {
			if r.opts.process {
				return cmd.upgradeProcess(r, args)
			}
			return cmd.apply(r, selfcompile.Change{Upgrade: args, UpgradeAll: len(args) == 0})
		}},
		"sync": {"FILE", addFlags, (*Command).sync},
		"list": {"", func(fs *pflag.FlagSet, o *options) {
			fs.BoolVar(&o.asJSON, "json", false, "print the plugins as JSON")
			fs.BoolVar(&o.lock, "lock", false, "print the plugins as a file that plugin sync installs again, with their hashes")
			fs.BoolVar(&o.process, "process", false, "print only the process plugins (with --json: as their manifest records them)")
		}, (*Command).list},
		"search":   {"[WORD]", jsonFlag, (*Command).search},
		"info":     {"NAME", jsonFlag, (*Command).info},
		"check":    {"", jsonFlag, (*Command).check},
		"rollback": {"[--process NAME]", func(fs *pflag.FlagSet, o *options) { changeFlags(fs, o); processFlag(fs, o) }, (*Command).rollback},
		"restore":  {"", addFlags, (*Command).restore},
		"cache": {"", func(fs *pflag.FlagSet, o *options) {
			fs.BoolVar(&o.trim, "trim", false, "remove what the current binary does not need")
			fs.BoolVar(&o.purge, "purge", false, "remove every cache but the record of the catalogs verified, which guards against rollbacks")
			fs.BoolVar(&o.asJSON, "json", false, "print what the cache holds as JSON")
		}, (*Command).cache},
	}
}

// Run runs the command with args (what follows "plugin").
func (cmd *Command) Run(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "--plugin" || strings.HasPrefix(args[0], "--plugin=")) {
		args = originalSpelling(args)
	}
	if len(args) == 0 {
		return cmd.usage("", "name a command")
	}
	if sub, ok, err := cmd.helpArgs(args); ok || err != nil {
		if err != nil {
			return err
		}
		return cmd.help(sub)
	}
	name := args[0]
	sub, ok := subcommands[name]
	if !ok {
		return cmd.usage("", fmt.Sprintf("unknown command %q", name))
	}
	r := &run{ctx: ctx, sc: cmd.SelfCompile} // a copy: each run starts from the options
	fs := flagSet(name, sub, &r.opts)
	if err := fs.Parse(args[1:]); errors.Is(err, pflag.ErrHelp) {
		return cmd.help(name)
	} else if err != nil {
		return cmd.usage(name, err.Error())
	}
	if r.opts.trim && r.opts.purge {
		return cmd.usage(name, "--trim and --purge go alone")
	}
	if sub.args == "" && fs.NArg() > 0 {
		return cmd.usage(name, "it takes no arguments")
	}
	r.sc.KeepHostDeps = r.sc.KeepHostDeps || r.opts.keepHostDeps
	r.sc.AllowUnlisted = r.sc.AllowUnlisted || r.opts.allowUnlisted
	r.sc.Verbose = r.sc.Verbose || os.Getenv("GO_SELFCOMPILE_VERBOSE") == "1"
	cmd.setOutput(&r.sc, r.opts.asJSON)
	if r.opts.output != "" {
		r.out = &output{name: r.opts.output, failed: cmd.stdout()}
		c := *cmd
		c.Stdout = &r.out.buf
		cmd = &c
	}
	switch name {
	case "add", "remove", "upgrade", "sync": // the change forgets what an upgrade dropped: say it first
		cmd.noticeMissing(&r.sc)
	}
	err := sub.run(cmd, r, fs.Args())
	if werr := r.out.write(err != nil); werr != nil {
		err = errors.Join(err, werr)
	}
	return err
}

// flagSet returns the flags of the subcommand name, which sets o: its own,
// and --output, which every subcommand takes.
func flagSet(name string, sub subcommand, o *options) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sub.flags(fs, o)
	fs.StringVarP(&o.output, "output", "o", "", "write what it prints on standard output to `FILE` instead, once it is done, without what plugins print when the program starts")
	return fs
}

// output is the file that --output names. What the command prints on
// standard output is kept and written to it whole, when the command ends:
// a plugin's init prints before any flag is read, so standard output may
// hold more than the command printed.
type output struct {
	name   string
	buf    bytes.Buffer
	done   bool
	failed io.Writer // where what a failed command printed goes instead
}

// write writes the file, once, unless the command failed: then FILE is
// left as it was (a lock file that a failed plugin add -o FILE would
// replace with "Installing plugin: ..."), and what it printed goes to
// standard output. The file is replaced through a rename, so that a reader such as plugin
// sync sees the old file or the new one whole; a symlink stays a link to
// the file it names, which keeps its mode.
func (o *output) write(failed bool) error {
	if o == nil || o.done {
		return nil
	}
	o.done = true
	if failed {
		_, err := o.failed.Write(o.buf.Bytes())
		return err
	}
	name := o.name
	if real, err := filepath.EvalSymlinks(name); err == nil {
		name = real
	}
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(name); err == nil {
		perm = fi.Mode().Perm()
	}
	err := fsutil.WriteAtomic(name, perm, func(w io.Writer) error {
		_, err := w.Write(o.buf.Bytes())
		return err
	})
	if err != nil {
		return fmt.Errorf("writing the output to %s: %w", o.name, err)
	}
	return nil
}

// originalSpelling turns "--plugin SPEC [--plugin SPEC...]", the command
// line of the library's first release, into "add SPEC...".
func originalSpelling(args []string) []string {
	out := []string{"add"}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--plugin" && i+1 < len(args):
			out = append(out, args[i+1])
			i++
		case strings.HasPrefix(a, "--plugin="):
			out = append(out, strings.TrimPrefix(a, "--plugin="))
		default:
			out = append(out, a)
		}
	}
	return out
}

// add installs plugins, saying which.
func (cmd *Command) add(r *run, args []string) error {
	if len(args) == 0 {
		return cmd.usage("add", "name at least one plugin")
	}
	if r.opts.process {
		return cmd.addProcess(r, args)
	}
	if !r.opts.asJSON {
		doing := "Installing plugin:"
		if r.opts.dryRun {
			doing = "Dry run: would install plugin:"
		}
		for _, spec := range args {
			fmt.Fprintln(cmd.stdout(), doing, spec)
		}
	}
	return cmd.apply(r, selfcompile.Change{Add: args})
}

// apply plans or makes the change, and prints the plan or the outcome.
func (cmd *Command) apply(r *run, ch selfcompile.Change) error {
	do := r.sc.Apply
	if r.opts.dryRun {
		do = r.sc.Plan
	}
	plan, err := do(r.ctx, ch)
	if err != nil {
		return err
	}
	if err := cmd.report(r, plan); err != nil {
		return err
	}
	return cmd.restartIf(r, !plan.Empty())
}

// report prints a plan carried out, or one of a dry run.
func (cmd *Command) report(r *run, plan *selfcompile.Plan) error {
	out := cmd.stdout()
	switch {
	case r.opts.asJSON:
		return printJSON(out, plan)
	case r.opts.dryRun:
		fmt.Fprint(out, plan)
		if plan.Backup != "" {
			fmt.Fprintf(out, "  put back %s\n", plan.Backup)
		}
		if plan.Estimate != nil {
			fmt.Fprintln(out, plan.Estimate)
		}
		fmt.Fprintln(out, "Dry run: nothing changed.")
	case plan.Empty():
		fmt.Fprintln(out, "Nothing to do: the plugins are already as asked.")
	default:
		fmt.Fprintln(out, "Success.")
		if plan.Took > 0 {
			more, mb := "less", float64(plan.DiskUsed)/1e6
			if mb < 0 { // what else wrote to the disk freed more than the install took
				more, mb = "more", -mb
			}
			fmt.Fprintf(cmd.stderr(), "Took %v; the disk of the cache has %.1f MB %s free than before (what else wrote to it counts too).\n", plan.Took.Round(100*time.Millisecond), mb, more)
		}
		if plan.Backup != "" {
			fmt.Fprintf(cmd.stderr(), "The previous binary is %s; if %s no longer starts, run: %s plugin rollback\n", plan.Backup, cmd.name(), plan.Backup)
		}
	}
	return nil
}

// restartIf makes the new binary take over this process when asked and
// something changed.
func (cmd *Command) restartIf(r *run, changed bool) error {
	if !r.opts.restart || r.opts.dryRun || !changed {
		return nil
	}
	if !r.opts.asJSON {
		fmt.Fprintln(cmd.stdout(), "Restarting.")
	}
	if err := r.out.write(false); err != nil { // the new binary replaces this process
		return err
	}
	return r.sc.Restart()
}

// rollback puts back the previous binary, or with --dry-run says which
// and what changes.
func (cmd *Command) rollback(r *run, args []string) error {
	if r.opts.process {
		return cmd.rollbackProcess(r, args)
	}
	if len(args) > 0 {
		return cmd.usage("rollback", "it takes no arguments")
	}
	plan, err := r.sc.PlanRollback(r.ctx)
	if err != nil || r.opts.dryRun {
		if err == nil {
			err = cmd.report(r, plan)
		}
		return err
	}
	if err := r.sc.Rollback(r.ctx); err != nil {
		return err
	}
	if r.opts.asJSON {
		if err := printJSON(cmd.stdout(), plan); err != nil {
			return err
		}
	} else {
		fmt.Fprintln(cmd.stdout(), "Rolled back.")
	}
	return cmd.restartIf(r, true)
}

// list prints the plugins of the executable on disk (of the running
// binary, for a program that go-selfcompile did not prepare).
func (cmd *Command) list(r *run, _ []string) error {
	if r.opts.process {
		return cmd.listProcesses(r)
	}
	plugins, err := r.sc.Plugins()
	if errors.Is(err, selfcompile.ErrNoBundle) {
		plugins, err = selfcompile.Installed(), nil
	}
	if err != nil {
		return err
	}
	cmd.noticeMissing(&r.sc)
	if r.opts.asJSON {
		if plugins == nil {
			plugins = []selfcompile.PluginInfo{}
		}
		return printJSON(cmd.stdout(), plugins)
	}
	processes, err := r.sc.ProcessPlugins()
	if err != nil {
		return err
	}
	if r.opts.lock {
		return writeLock(cmd.stdout(), cmd.name(), plugins, processes)
	}
	if len(plugins)+len(processes) == 0 {
		fmt.Fprintln(cmd.stdout(), "No plugins installed.")
	}
	for _, p := range plugins {
		fmt.Fprintln(cmd.stdout(), p.Describe())
	}
	for _, p := range processes {
		fmt.Fprintln(cmd.stdout(), describeProcess(p))
	}
	return nil
}

// cache reports, trims or purges what installs keep.
func (cmd *Command) cache(r *run, _ []string) error {
	var freed int64
	switch {
	case r.opts.purge:
		if err := r.sc.PurgeCache(r.ctx); err != nil {
			return err
		}
	case r.opts.trim:
		var err error
		if freed, err = r.sc.TrimCache(r.ctx); err != nil {
			return err
		}
	}
	entries, err := r.sc.CacheUsage()
	if err != nil {
		return err
	}
	if r.opts.asJSON {
		return printJSON(cmd.stdout(), struct {
			Freed   int64                    `json:"freed"`
			Entries []selfcompile.CacheEntry `json:"entries"`
		}{freed, entries})
	}
	if r.opts.trim {
		fmt.Fprintf(cmd.stdout(), "Freed %.1f MB.\n", float64(freed)/1e6)
	}
	var total int64
	for _, e := range entries {
		fmt.Fprintf(cmd.stdout(), "%-9s %8.1f MB  %s\n", e.Kind, float64(e.Size)/1e6, e.Path)
		total += e.Size
	}
	fmt.Fprintf(cmd.stdout(), "%-9s %8.1f MB\n", "total", float64(total)/1e6)
	return nil
}

func jsonFlag(fs *pflag.FlagSet, o *options) {
	fs.BoolVar(&o.asJSON, "json", false, "print it as JSON")
}

func printJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, strings.TrimSpace(string(data)))
	return err
}
