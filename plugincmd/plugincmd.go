// Package plugincmd is a ready plugin command for a program that uses
// go-selfcompile: add, remove, upgrade, sync, list, rollback, restore and cache;
// search, info and check for a program with a vendor's catalog; dry runs,
// JSON for configuration tools, clear exit codes, signal handling, and a
// progress display on a terminal.
//
// A program with flag or pflag hands it what follows "plugin":
//
//	if len(os.Args) > 1 && os.Args[1] == "plugin" {
//		plugincmd.Main(os.Args[2:], selfcompile.SelfCompile{LDFlags: "-X main.version=" + version})
//	}
//
// A cobra program adds the command of package cobraplugin (a module of
// its own, so programs without cobra do not build it): real cobra
// subcommands, help, and shell completion of subcommands, flags, installed
// plugins and catalog names. It exits with the command's exit code:
//
//	root.SilenceUsage = true
//	root.AddCommand(cobraplugin.Command(selfcompile.SelfCompile{LDFlags: "-X main.version=" + version}))
//	if err := root.Execute(); err != nil {
//		os.Exit(plugincmd.ExitCode(err))
//	}
//
// "plugin --help", "plugin help [COMMAND]" and "plugin COMMAND --help"
// print the usage and exit 0.
//
// The commands, each with its own flags:
//
//	plugin add SPEC...    [--dry-run] [--json] [--keep-host-deps] [--allow-unlisted] [--restart]
//	plugin remove IMPORTPATH... [--dry-run] [--json] [--restart]
//	plugin upgrade [IMPORTPATH[@VERSION]|FOLDER...] [--dry-run] [--json] [--keep-host-deps] [--allow-unlisted] [--restart]
//	plugin sync FILE      [--dry-run] [--json] [--keep-host-deps] [--allow-unlisted] [--restart]
//	plugin list           [--json | --lock]
//	plugin search [WORD]  [--json]
//	plugin info NAME      [--json]
//	plugin check          [--json]
//	plugin rollback       [--dry-run] [--json] [--restart]
//	plugin restore        [--dry-run] [--json] [--keep-host-deps] [--allow-unlisted] [--restart]
//	plugin cache          [--trim | --purge] [--json]
//
// Every command also takes -o FILE (--output FILE): what it prints on
// standard output goes to FILE instead, written whole once the command is
// done, and FILE is left as it was if the command fails (what it printed
// goes to standard output).
// Plugins print in init before any flag is read, so that is the way to a
// clean JSON or lock file whatever they print; plugin sync also reads a
// lock file from the first line plugin list --lock prints, skipping what
// came before it.
//
// A SPEC is an import path, IMPORTPATH@VERSION (a semantic version,
// "latest", a pseudo-version or a commit), a local directory (starting
// with ./, ../ or /), or the name of a plugin of the vendor's catalog,
// with @VERSION or not. "--plugin SPEC" is the spelling of "add SPEC" of
// the library's first release.
package plugincmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"

	selfcompile "github.com/shazow/go-selfcompile"
)

// Exit codes of the command, as ExitCode maps errors to them.
const (
	ExitOK       = 0   // done, or nothing to do
	ExitFailed   = 1   // the change failed; the binary is unchanged
	ExitUsage    = 2   // the command line is wrong
	ExitRefused  = 3   // --keep-host-deps, or the vendor's catalog or policy, refused the change; or plugin check found problems
	ExitNetwork  = 4   // the change needs a module that only the network has
	ExitAct      = 5   // a swap failed and was not undone: see the message, and act
	ExitCanceled = 130 // SIGINT or SIGTERM; the binary is unchanged
)

// Command is the plugin command of a program.
type Command struct {
	// SelfCompile holds the options of every change: LDFlags, CacheDir,
	// Target, Backups, ... Its Logger and Progress default to what suits
	// the terminal.
	SelfCompile selfcompile.SelfCompile
	// Name is the program's name in usage lines; it defaults to the base
	// name of os.Args[0].
	Name string
	// Stdout and Stderr default to the process's.
	Stdout, Stderr io.Writer
}

// Main runs the command with args (what follows "plugin" on the command
// line), with SIGINT, SIGTERM, SIGHUP (a closed terminal or SSH session)
// and SIGQUIT canceling it, and exits the process with ExitCode of its
// error.
func Main(args []string, sc selfcompile.SelfCompile) {
	ctx, stop := signal.NotifyContext(context.Background(), stopSignals...)
	cmd := &Command{SelfCompile: sc}
	err := cmd.Run(ctx, args)
	stop()
	if err != nil {
		fmt.Fprintln(cmd.stderr(), err)
	}
	os.Exit(ExitCode(err))
}

// Run runs the command with args (what follows "plugin"). A program that
// calls it handles signals itself, for example with the context of a
// cobra command run by ExecuteContext.
func Run(ctx context.Context, args []string) error {
	return (&Command{}).Run(ctx, args)
}

// ExitCode returns the exit code for an error of Run.
func ExitCode(err error) int {
	var re *selfcompile.RollbackError
	var ue usageError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue), errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.As(err, &re):
		return ExitAct
	case errors.Is(err, selfcompile.ErrCanceled), errors.Is(err, context.Canceled):
		return ExitCanceled
	case errors.Is(err, selfcompile.ErrHostDepsChanged), errors.Is(err, selfcompile.ErrNotAllowed):
		return ExitRefused
	case errors.Is(err, selfcompile.ErrNeedsNetwork):
		return ExitNetwork
	}
	return ExitFailed
}

// ErrUsage is what the errors of a wrong command line match (errors.Is),
// which ExitCode maps to ExitUsage. A program that parses the command
// line itself (package cobraplugin) wraps its parse errors in it.
var ErrUsage = errors.New("wrong command line")

// usageError is a wrong command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Is makes a usage error match ErrUsage.
func (e usageError) Is(target error) bool { return target == ErrUsage }

// usage returns the usage error for a wrong command line of the
// subcommand sub ("" for the command), saying what is wrong.
func (cmd *Command) usage(sub, problem string) error {
	if _, ok := subcommands[sub]; ok {
		problem = "plugin " + sub + ": " + problem
	}
	return usageError{problem + "\n" + cmd.usageText(sub)}
}

func (cmd *Command) name() string {
	if cmd.Name != "" {
		return cmd.Name
	}
	return filepath.Base(os.Args[0])
}

func (cmd *Command) stdout() io.Writer {
	if cmd.Stdout != nil {
		return cmd.Stdout
	}
	return os.Stdout
}

func (cmd *Command) stderr() io.Writer {
	if cmd.Stderr != nil {
		return cmd.Stderr
	}
	return os.Stderr
}
