// Package cobraplugin is the plugin command of package plugincmd for a
// cobra program: real cobra subcommands (add, remove, upgrade, list, ...)
// with their flags and help, and shell completion of the subcommands, their
// flags, the installed plugins (remove, upgrade) and the names of the
// vendor's catalog (add, info), from what the program carries, without the
// network. It is a module of its own, so that programs without cobra never
// build it.
//
//	root.SilenceUsage = true
//	root.AddCommand(cobraplugin.Command(selfcompile.SelfCompile{LDFlags: "-X main.version=" + version}))
//	if err := root.Execute(); err != nil {
//		os.Exit(plugincmd.ExitCode(err))
//	}
//
// What each subcommand does, and its exit codes, are plugincmd's: the
// cobra commands parse the command line and hand it to
// plugincmd.Command.RunParsed.
package cobraplugin

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/plugincmd"
)

// Command returns the plugin command, whose changes use the options of sc
// (LDFlags, CacheDir, Target, ...). Its name in usage lines is the root
// command's.
func Command(sc selfcompile.SelfCompile) *cobra.Command {
	pc := &plugincmd.Command{SelfCompile: sc}
	var original []string
	c := &cobra.Command{
		Use:   "plugin",
		Short: "Add, remove, upgrade and list plugins",
		Args:  cobra.ArbitraryArgs,
		// "plugin --plugin SPEC" is the spelling of "plugin add SPEC" of
		// the library's first release; anything else is plugincmd's to
		// refuse, with its usage.
		RunE: func(c *cobra.Command, args []string) error {
			bind(pc, c)
			if len(original) > 0 {
				args = append([]string{"add"}, append(original, args...)...)
			}
			return pc.Run(c.Context(), args)
		},
	}
	c.Flags().StringArrayVar(&original, "plugin", nil, "the plugin to add (the spelling of plugin add of the first release)")
	c.Flags().MarkHidden("plugin")
	c.SetFlagErrorFunc(flagError)
	for _, s := range plugincmd.Subcommands() {
		c.AddCommand(subcommand(pc, s))
	}
	return c
}

// subcommand returns the cobra command of the subcommand s.
func subcommand(pc *plugincmd.Command, s plugincmd.Subcommand) *cobra.Command {
	fs := s.Flags()
	c := &cobra.Command{
		Use:   strings.TrimSpace(s.Name + " " + s.Args),
		Short: s.Short,
		Args:  cobra.ArbitraryArgs, // plugincmd checks them, and says what is wrong
		RunE: func(c *cobra.Command, args []string) error {
			bind(pc, c)
			return pc.RunParsed(c.Context(), s.Name, fs, args)
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			if s.Name == "add" && isFolder(toComplete) {
				return nil, cobra.ShellCompDirectiveFilterDirs
			}
			if s.Name == "sync" {
				return nil, cobra.ShellCompDirectiveDefault // a file
			}
			return pc.Complete(c.Context(), s.Name, args, toComplete), cobra.ShellCompDirectiveNoFileComp
		},
	}
	c.Flags().AddFlagSet(fs)
	c.SetFlagErrorFunc(flagError)
	return c
}

// bind gives the plugin command the program's name and the cobra
// command's output. (A PersistentPreRun would do it once, but would stop
// cobra from running the root's, which the program may need.)
func bind(pc *plugincmd.Command, c *cobra.Command) {
	pc.Name = c.Root().Name()
	pc.Stdout, pc.Stderr = c.OutOrStdout(), c.ErrOrStderr()
}

// isFolder reports whether a word being typed is a local folder, which
// add takes as a SPEC.
func isFolder(word string) bool {
	return strings.HasPrefix(word, ".") || strings.HasPrefix(word, "/")
}

// flagError makes cobra's flag errors usage errors of plugincmd (exit
// code 2), with the command's usage.
func flagError(c *cobra.Command, err error) error {
	return fmt.Errorf("%w: %v\n%s", plugincmd.ErrUsage, err, strings.TrimRight(c.UsageString(), "\n"))
}
