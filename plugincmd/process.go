package plugincmd

import (
	"fmt"
	"strings"
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
		fmt.Fprintf(cmd.stdout(), "Installed %s as %s (sha256 %s).\n", p.ImportPath, p.Path, p.SHA256[:16])
		if p.Previous != "" {
			fmt.Fprintf(cmd.stderr(), "The previous executable is %s.previous.\n", p.Path)
		}
	}
	fmt.Fprintln(cmd.stdout(), "Success. A running program starts it when it next asks for it; no restart is needed.")
	return nil
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
