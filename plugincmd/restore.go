package plugincmd

import (
	"fmt"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
)

// restore installs again, in one rebuild, the plugins that another build
// of the program (an upgrade) dropped, or with --dry-run shows the plan.
// It names those the vendor's catalog no longer allows for this version
// of the program, installs the rest, and then fails, naming them.
func (cmd *Command) restore(r *run, _ []string) error {
	rs, err := r.sc.PlanRestore(r.ctx)
	if err != nil {
		return err
	}
	if len(rs.Missing) == 0 {
		if r.opts.asJSON {
			return printJSON(cmd.stdout(), rs)
		}
		fmt.Fprintln(cmd.stdout(), "Nothing to restore: no plugin installed here before is missing.")
		return nil
	}
	var unfit []string
	for _, u := range rs.Unfit {
		fmt.Fprintf(cmd.stderr(), "Not restored: %s %s: %s\n", u.Plugin, u.Version, u.Reason)
		unfit = append(unfit, u.Plugin)
	}
	if len(rs.Change.Add) > 0 {
		if !r.opts.asJSON {
			fmt.Fprintln(cmd.stdout(), "Restoring plugins:", strings.Join(rs.Change.Add, " "))
		}
		if err := cmd.apply(r, rs.Change); err != nil {
			return err
		}
	}
	if len(unfit) > 0 {
		return fmt.Errorf("not restored, as they no longer fit this version of %s: %s", cmd.name(), strings.Join(unfit, ", "))
	}
	return nil
}

// noticeMissing tells, on standard error, which plugins installed before
// the binary lacks since another build of the program replaced it, and
// how to get them back. It says nothing when it cannot tell.
func (cmd *Command) noticeMissing(sc *selfcompile.SelfCompile) {
	missing, err := sc.Missing()
	if err != nil || len(missing) == 0 {
		return
	}
	names := make([]string, len(missing))
	for i, p := range missing {
		names[i] = p.Describe()
	}
	fmt.Fprintf(cmd.stderr(), "Missing: %d plugin(s) installed before another build of %s (an upgrade?) replaced it:\n  %s\nRun \"%s plugin restore\" to install them again (--dry-run shows the plan).\n",
		len(missing), cmd.name(), strings.Join(names, "\n  "), cmd.name())
}
