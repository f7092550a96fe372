package plugincmd

import (
	"fmt"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/catalog"
)

// vendorCatalog returns the program's catalog and the host version its
// constraints are checked against, or an error that says it has none.
func (cmd *Command) vendorCatalog(r *run) (*catalog.Catalog, string, error) {
	cat, host, err := r.sc.Catalog(r.ctx)
	if err == nil && cat == nil {
		err = fmt.Errorf("%s has no catalog of plugins: its vendor did not give it one", cmd.name())
	}
	return cat, host, err
}

// search lists the catalog's plugins whose name, description or import
// path holds the word.
func (cmd *Command) search(r *run, args []string) error {
	if len(args) > 1 {
		return cmd.usage("search", "it takes one word at most")
	}
	cat, host, err := cmd.vendorCatalog(r)
	if err != nil {
		return err
	}
	found := cat.Search(strings.Join(args, " "))
	if r.opts.asJSON {
		if found == nil {
			found = []catalog.Plugin{}
		}
		return printJSON(cmd.stdout(), found)
	}
	for _, p := range found {
		newest := "(no version for this program)"
		if v, err := p.Newest(host); err == nil {
			newest = v.Version
		}
		fmt.Fprintf(cmd.stdout(), "%-16s %-12s %s  %s\n", p.Name, newest, p.ImportPath, p.Description)
	}
	return nil
}

// info prints what the catalog says of one plugin.
func (cmd *Command) info(r *run, args []string) error {
	if len(args) != 1 {
		return cmd.usage("info", "name one plugin")
	}
	cat, host, err := cmd.vendorCatalog(r)
	if err != nil {
		return err
	}
	p, ok := cat.ByName(args[0])
	if !ok {
		if p, ok = cat.ByImportPath(args[0]); !ok {
			return fmt.Errorf("the catalog (sequence %d) has no plugin %q (plugin search lists them)", cat.Sequence, args[0])
		}
	}
	if r.opts.asJSON {
		return printJSON(cmd.stdout(), p)
	}
	w := cmd.stdout()
	fmt.Fprintf(w, "%s: %s\n  package  %s (module %s)\n", p.Name, p.Description, p.ImportPath, p.Module)
	if p.Tier != "" {
		fmt.Fprintf(w, "  tier     %s\n", p.Tier)
	}
	for _, v := range p.Versions {
		note := ""
		if _, err := p.Allowed(v.Version, host); err != nil {
			note = "  (" + err.Error() + ")"
		}
		fmt.Fprintf(w, "  version  %s %s%s\n", v.Version, v.Sum, note)
	}
	for _, v := range p.Revoked {
		fmt.Fprintf(w, "  revoked  %s: %s\n", v.Version, v.Reason)
	}
	return nil
}

// check reports the installed plugins that the catalog no longer lets
// users run, and fails (ExitRefused) if there is any.
func (cmd *Command) check(r *run, _ []string) error {
	problems, err := r.sc.Check(r.ctx)
	if err != nil {
		return err
	}
	if r.opts.asJSON {
		if problems == nil {
			problems = []catalog.Problem{}
		}
		if err := printJSON(cmd.stdout(), problems); err != nil {
			return err
		}
	} else if len(problems) == 0 {
		fmt.Fprintln(cmd.stdout(), "The installed plugins are all allowed.")
	}
	if len(problems) == 0 {
		return nil
	}
	var lines []string
	for _, p := range problems {
		if p.Plugin == "" {
			lines = append(lines, p.Reason)
		} else {
			lines = append(lines, strings.TrimSpace(p.Plugin+" "+p.Version)+": "+p.Reason)
		}
	}
	return fmt.Errorf("%w: %s", selfcompile.ErrNotAllowed, strings.Join(lines, "; "))
}
