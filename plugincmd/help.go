package plugincmd

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/pflag"
)

// summaries are the subcommands' one-line descriptions, for help.
var summaries = map[string]string{
	"add":      "Install plugins: import paths, catalog names or local folders",
	"remove":   "Remove installed plugins",
	"upgrade":  "Upgrade the plugins named, or all of them",
	"sync":     "Install exactly the plugins a lock file lists",
	"list":     "List the installed plugins",
	"search":   "List the plugins of the vendor's catalog that match a word",
	"info":     "Show what the vendor's catalog says of a plugin",
	"check":    "Report installed plugins the vendor's catalog no longer allows",
	"rollback": "Put back the binary that the last change replaced",
	"restore":  "Install again the plugins an upgrade of the program dropped",
	"cache":    "Show, trim or purge what installs keep",
}

// Subcommand is one of the command's subcommands, as a program that builds
// its own command line for them (package cobraplugin) describes it.
type Subcommand struct {
	Name  string // as typed: "add"
	Args  string // its arguments, for usage lines: "SPEC..."
	Short string // a one-line description
}

// Subcommands returns the command's subcommands, sorted by name.
func Subcommands() []Subcommand {
	var subs []Subcommand
	for _, name := range slices.Sorted(maps.Keys(subcommands)) {
		subs = append(subs, Subcommand{Name: name, Args: subcommands[name].args, Short: summaries[name]})
	}
	return subs
}

// Flags returns a new flag set that defines the subcommand's flags; give
// it, parsed, to Command.RunParsed.
func (s Subcommand) Flags() *pflag.FlagSet {
	sub, ok := subcommands[s.Name]
	if !ok {
		return pflag.NewFlagSet(s.Name, pflag.ContinueOnError)
	}
	return flagSet(s.Name, sub, &options{})
}

// RunParsed runs the subcommand name with the flags set on the command
// line in fs (a flag set of Subcommand.Flags, or one its flags were added
// to, that another parser parsed) and the positional arguments args, as
// Run would run them.
func (cmd *Command) RunParsed(ctx context.Context, name string, fs *pflag.FlagSet, args []string) error {
	argv := []string{name}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Changed {
			argv = append(argv, "--"+f.Name+"="+f.Value.String())
		}
	})
	return cmd.Run(ctx, append(append(argv, "--"), args...))
}

// help prints the usage of the command, or of its subcommand sub, to
// standard output: what "plugin --help", "plugin help [CMD]" and "plugin
// CMD --help" print.
func (cmd *Command) help(sub string) error {
	_, err := fmt.Fprintln(cmd.stdout(), cmd.usageText(sub))
	return err
}

// helpArgs reports whether args ask for help ("--help", "-h", "help
// [CMD]"), and for which subcommand ("" for the command).
func (cmd *Command) helpArgs(args []string) (sub string, ok bool, err error) {
	switch {
	case args[0] == "--help" || args[0] == "-h":
		return "", true, nil
	case args[0] != "help":
		return "", false, nil
	case len(args) > 2:
		return "", true, cmd.usage("", "help takes one command at most")
	case len(args) == 2:
		if _, known := subcommands[args[1]]; !known {
			return "", true, cmd.usage("", fmt.Sprintf("unknown command %q", args[1]))
		}
		return args[1], true, nil
	}
	return "", true, nil
}

// usageText is the usage of the command, or of its subcommand sub.
func (cmd *Command) usageText(sub string) string {
	var b strings.Builder
	if s, ok := subcommands[sub]; ok {
		fs := flagSet(sub, s, &options{})
		fs.BoolP("help", "h", false, "print this help")
		fmt.Fprintf(&b, "usage: %s plugin %s [FLAGS]\n\n%s.\n\nFlags:\n%s", cmd.name(), strings.TrimSpace(sub+" "+s.args), summaries[sub], fs.FlagUsages())
		return strings.TrimRight(b.String(), "\n")
	}
	fmt.Fprintf(&b, "usage: %s plugin COMMAND [ARGS] [FLAGS]\n\nCommands:\n", cmd.name())
	for _, s := range Subcommands() {
		fmt.Fprintf(&b, "  %-34s %s\n", strings.TrimSpace(s.Name+" "+s.Args), s.Short)
	}
	fmt.Fprintf(&b, "\nRun '%s plugin help COMMAND' for a command's flags.", cmd.name())
	return b.String()
}
