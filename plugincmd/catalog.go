package plugincmd

import (
	"fmt"
	"io"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/catalog"
	"github.com/shazow/go-selfcompile/internal/printable"
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
	cmd.unknownHost(host, found...)
	if r.opts.asJSON {
		if found == nil {
			found = []catalog.Plugin{}
		}
		return printJSON(cmd.stdout(), found)
	}
	writeSearch(cmd.stdout(), found, host, cat.Sequence, args...)
	return nil
}

// writeSearch prints one line for each plugin found: what the vendor
// wrote, escaped (package printable); or, when none was, that the catalog
// of that sequence number has none that matches the word.
func writeSearch(w io.Writer, found []catalog.Plugin, host string, seq int64, word ...string) {
	switch {
	case len(found) > 0:
	case len(word) == 0:
		fmt.Fprintf(w, "The catalog (sequence %d) lists no plugins.\n", seq)
	default:
		fmt.Fprintf(w, "No plugin of the catalog (sequence %d) matches %q.\n", seq, word[0])
	}
	for _, p := range found {
		newest := "(no version for this program)"
		if v, err := p.Newest(host); err == nil {
			newest = v.Version
		}
		fmt.Fprintf(w, "%-16s %-12s %s  %s\n", printable.String(p.Name), newest, p.ImportPath, printable.String(p.Description))
	}
}

// unknownHost says, when the host's version is unknown and a version of
// the plugins has host constraints, that they are not checked.
func (cmd *Command) unknownHost(host string, plugins ...catalog.Plugin) {
	if host != "" {
		return
	}
	for _, p := range plugins {
		for _, v := range p.Versions {
			if v.Hosts != "" {
				fmt.Fprintf(cmd.stderr(), "Note: %s records no version of its own, so the catalog's host constraints (%s %s: %s) are not checked: a version offered may not work with it. Its vendor can name the version: go-selfcompile --host-version.\n",
					cmd.name(), printable.String(p.Name), v.Version, v.Hosts)
				return
			}
		}
	}
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
	cmd.unknownHost(host, *p)
	if r.opts.asJSON {
		return printJSON(cmd.stdout(), p)
	}
	writeInfo(cmd.stdout(), p, host)
	return nil
}

// writeInfo prints what the catalog says of p: what the vendor wrote,
// escaped (package printable).
func writeInfo(w io.Writer, p *catalog.Plugin, host string) {
	fmt.Fprintf(w, "%s: %s\n  package  %s (module %s)\n", printable.String(p.Name), printable.String(p.Description), p.ImportPath, p.Module)
	if p.Tier != "" {
		fmt.Fprintf(w, "  tier     %s\n", printable.String(p.Tier))
	}
	if p.Kind == catalog.KindProcess {
		fmt.Fprintf(w, "  kind     process plugin: a program of its own (plugin add --process %s)\n", printable.String(p.Name))
	}
	for _, v := range p.Versions {
		note := ""
		if _, err := p.Allowed(v.Version, host); err != nil {
			note = "  (" + err.Error() + ")"
		} else if host == "" && v.Hosts != "" {
			note = "  (for versions " + v.Hosts + " of the program; this one's is unknown)"
		}
		fmt.Fprintf(w, "  version  %s %s%s\n", v.Version, printable.String(v.Sum), note)
	}
	for _, v := range p.Revoked {
		fmt.Fprintf(w, "  revoked  %s: %s\n", v.Version, printable.String(v.Reason))
	}
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
	return problemsError(problems)
}

// problemsError is the error that lists the problems plugin check found,
// with what the vendor wrote in them escaped (package printable).
func problemsError(problems []catalog.Problem) error {
	var lines []string
	for _, p := range problems {
		line := p.Reason
		if p.Plugin != "" {
			line = strings.TrimSpace(p.Plugin+" "+p.Version) + ": " + p.Reason
		}
		lines = append(lines, printable.String(line))
	}
	return fmt.Errorf("%w: %s", selfcompile.ErrNotAllowed, strings.Join(lines, "; "))
}
