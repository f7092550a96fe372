package plugincmd

import (
	"fmt"
	"io"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
)

// addProcess installs process plugins (add --process), one by one: each
// is an executable of its own, and the program's binary does not change.
func (cmd *Command) addProcess(r *run, args []string) error {
	if r.opts.dryRun || r.opts.asJSON || r.opts.restart {
		return cmd.usage("add", "--process goes without --dry-run, --json and --restart")
	}
	for _, spec := range args {
		fmt.Fprintln(cmd.stdout(), "Installing process plugin:", spec)
		p, err := r.sc.InstallProcess(r.ctx, spec)
		if err != nil {
			return err
		}
		cmd.installedProcess(cmd.stdout(), p)
	}
	fmt.Fprintln(cmd.stdout(), "Success. A running program starts it when it next asks for it; no restart is needed.")
	return nil
}

// upgradeProcess builds process plugins again, by name, or all of them
// (upgrade --process [NAME...]): from their folders, or at their modules'
// latest versions.
func (cmd *Command) upgradeProcess(r *run, names []string) error {
	if r.opts.dryRun || r.opts.asJSON || r.opts.restart {
		return cmd.usage("upgrade", "--process goes without --dry-run, --json and --restart")
	}
	if len(names) == 0 {
		plugins, err := r.sc.ProcessPlugins()
		if err != nil {
			return err
		}
		for _, p := range plugins {
			names = append(names, p.Name)
		}
		if len(names) == 0 {
			fmt.Fprintln(cmd.stdout(), "No process plugins installed.")
			return nil
		}
	}
	for _, name := range names {
		fmt.Fprintln(cmd.stdout(), "Upgrading process plugin:", name)
		p, err := r.sc.UpgradeProcess(r.ctx, name)
		if err != nil {
			return err
		}
		cmd.installedProcess(cmd.stdout(), p)
	}
	fmt.Fprintln(cmd.stdout(), "Success. A running program starts the new executables when it next asks for them; no restart is needed.")
	return nil
}

// installedProcess says where an install put a process plugin's
// executable, and where the one it replaced is.
func (cmd *Command) installedProcess(out io.Writer, p *selfcompile.ProcessPlugin) {
	from := p.Version
	if p.Local != "" {
		from = p.Local
	}
	fmt.Fprintf(out, "Installed %s (%s) as %s (sha256 %s).\n", p.ImportPath, from, p.Path, p.SHA256[:16])
	if p.Previous != "" {
		fmt.Fprintf(cmd.stderr(), "The previous executable is %s.previous.\n", p.Path)
	}
}

// listProcesses prints the process plugins alone (list --process), as
// JSON with --json.
func (cmd *Command) listProcesses(r *run) error {
	if r.opts.lock {
		return cmd.usage("list", "--process goes without --lock (a lock file lists both kinds)")
	}
	processes, err := r.sc.ProcessPlugins()
	if err != nil {
		return err
	}
	if r.opts.asJSON {
		if processes == nil {
			processes = []selfcompile.ProcessPlugin{}
		}
		return printJSON(cmd.stdout(), processes)
	}
	if len(processes) == 0 {
		fmt.Fprintln(cmd.stdout(), "No process plugins installed.")
	}
	for _, p := range processes {
		fmt.Fprintln(cmd.stdout(), describeProcess(p))
	}
	return nil
}

// describeProcess is a process plugin's line in plugin list.
func describeProcess(p selfcompile.ProcessPlugin) string {
	from := p.Version
	if p.Local != "" {
		from = "local " + p.Local
	}
	return fmt.Sprintf("%s process %s %s", p.ImportPath, p.Name, from)
}

// removeProcess removes process plugins by name (remove --process).
func (cmd *Command) removeProcess(r *run, names []string) error {
	if r.opts.dryRun || r.opts.asJSON || r.opts.restart {
		return cmd.usage("remove", "--process goes without --dry-run, --json and --restart")
	}
	for _, name := range names {
		if err := r.sc.RemoveProcess(r.ctx, name); err != nil {
			return err
		}
	}
	fmt.Fprintf(cmd.stdout(), "Removed process plugin %s.\n", strings.Join(names, ", "))
	return nil
}

// rollbackProcess puts back the previous executable of a process plugin
// (rollback --process NAME).
func (cmd *Command) rollbackProcess(r *run, args []string) error {
	if len(args) != 1 || r.opts.dryRun || r.opts.asJSON || r.opts.restart {
		return cmd.usage("rollback", "--process takes one NAME, without --dry-run, --json and --restart")
	}
	if err := r.sc.RollbackProcess(r.ctx, args[0]); err != nil {
		return err
	}
	fmt.Fprintf(cmd.stdout(), "Rolled back process plugin %s to its previous executable.\n", args[0])
	return nil
}
