package plugincmd

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/spec"
)

// A lock file lists plugins, one a line: a catalog name or an import path,
// with @version or not, or a local folder (a path that may hold spaces;
// one starting with ./ or ../ is relative to the file's directory); then,
// optionally, the h1: hash it must have. Lines starting with # are
// comments. A line "process SPEC" lists a process plugin: its folder, or
// its main package's import path at a version. A file that holds the line
// lockHeader is read from the line after it.

// lockHeader is the first line plugin list --lock prints. What comes
// before it in a file is not the lock: it is what the program's plugins
// printed in init, before the command ran, when the list was sent to the
// file through standard output.
const lockHeader = "# go-selfcompile lock file"

// processPrefix starts the line of a process plugin in a lock file.
const processPrefix = "process "

// lockFile is what a lock file lists: the change that makes the compiled-in
// plugins exactly its own, and its process plugins' specs.
type lockFile struct {
	change    selfcompile.Change
	processes []string
}

// sync makes the installed plugins exactly those the file lists.
func (cmd *Command) sync(r *run, args []string) error {
	if len(args) != 1 {
		return cmd.usage("sync", "name one file")
	}
	lock, err := readLock(args[0])
	if err != nil {
		return err
	}
	do := r.sc.Apply
	if r.opts.dryRun {
		do = r.sc.Plan
	}
	plan, err := do(r.ctx, lock.change)
	if err != nil { // the process plugins are left as they are too
		return err
	}
	if err := cmd.report(r, plan); err != nil {
		return err
	}
	// After the program's change, which may fail, and before a --restart
	// ends this process.
	if err := cmd.syncProcesses(r, lock.processes); err != nil {
		return err
	}
	return cmd.restartIf(r, !plan.Empty())
}

// syncProcesses makes the installed process plugins those of specs: it
// installs each spec not installed as it says (from that folder, or at
// that version), then removes the plugins no spec installed or kept.
func (cmd *Command) syncProcesses(r *run, specs []string) error {
	out := cmd.stdout()
	if r.opts.asJSON { // standard output is the plan's JSON
		out = cmd.stderr()
	}
	installed, err := r.sc.ProcessPlugins()
	if err != nil {
		return err
	}
	keep := map[string]bool{}
	for _, spec := range specs {
		if i := slices.IndexFunc(installed, func(p selfcompile.ProcessPlugin) bool { return installedAs(p, spec) }); i >= 0 {
			keep[installed[i].Name] = true
			continue
		}
		if r.opts.dryRun {
			fmt.Fprintln(out, "Dry run: would install process plugin:", spec)
			keep[processNameOf(spec)] = true
			continue
		}
		fmt.Fprintln(out, "Installing process plugin:", spec)
		p, err := r.sc.InstallProcess(r.ctx, spec)
		if err != nil {
			return err
		}
		cmd.installedProcess(out, p)
		keep[p.Name] = true
	}
	for _, p := range installed {
		switch {
		case keep[p.Name]:
		case r.opts.dryRun:
			fmt.Fprintln(out, "Dry run: would remove process plugin:", p.Name)
		default:
			if err := r.sc.RemoveProcess(r.ctx, p.Name); err != nil {
				return err
			}
			fmt.Fprintf(out, "Removed process plugin %s.\n", p.Name)
		}
	}
	return nil
}

// processSpec is the spec that installs p as it is: its folder, or its
// import path at its version.
func processSpec(p selfcompile.ProcessPlugin) string {
	if p.Local != "" {
		return p.Local
	}
	return p.ImportPath + "@" + p.Version
}

// processNameOf guesses, for a dry run, the name a spec installs as: for a
// folder, its last element (its import path is in its go.mod).
func processNameOf(s string) string {
	if spec.IsLocal(s) {
		return filepath.Base(s)
	}
	importPath, _, _ := strings.Cut(s, "@")
	return selfcompile.ProcessName(importPath)
}

// installedAs reports whether p is installed as a lock file's spec asks:
// from that folder; or at that version of that import path or catalog
// name, or at any version when the spec names none (or latest).
func installedAs(p selfcompile.ProcessPlugin, s string) bool {
	if p.Local != "" || spec.IsLocal(s) {
		return p.Local == s
	}
	name, version, _ := strings.Cut(s, "@")
	named := name == p.ImportPath || p.Catalog != "" && strings.HasPrefix(p.Catalog, name+" (")
	return named && (version == "" || version == "latest" || version == p.Version)
}

// readLock reads a lock file as the change that installs exactly what it
// lists. A plugin listed twice is refused, with both lines named.
func readLock(name string) (lockFile, error) {
	lock := lockFile{change: selfcompile.Change{Exactly: true, Sums: map[string]string{}}}
	ch := &lock.change
	data, err := os.ReadFile(name)
	if err != nil {
		return lock, err
	}
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		return lock, err
	}
	lines := strings.Split(string(data), "\n")
	first := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == lockHeader }) + 1
	seen := map[string]int{} // the plugin (import path, name or folder) -> its line
	for i := first; i < len(lines); i++ {
		line, process := strings.CutPrefix(strings.TrimSpace(lines[i]), processPrefix)
		p, sum, err := parseLockLine(line, dir)
		if err == nil && process && sum != "" {
			err = errors.New("a process plugin's line takes no h1: hash")
		}
		if err != nil {
			return lock, fmt.Errorf("%s:%d: %v", name, i+1, err)
		}
		if p == "" {
			continue
		}
		key := lockKey(p)
		if process {
			key = processPrefix + key
		}
		if at, ok := seen[key]; ok {
			return lock, fmt.Errorf("%s:%d: %s is already listed at %s:%d: keep one of the two lines", name, i+1, key, name, at)
		}
		seen[key] = i + 1
		switch {
		case process:
			lock.processes = append(lock.processes, p)
		case sum != "":
			ch.Sums[p] = sum
			fallthrough
		default:
			ch.Add = append(ch.Add, p)
		}
	}
	return lock, nil
}

// parseLockLine returns the plugin a line of a lock file lists and its
// hash, if any; "" for a blank line or a comment. A relative folder is
// made absolute from dir, the file's directory, and stays a folder.
func parseLockLine(line, dir string) (plugin, sum string, err error) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return "", "", nil
	}
	plugin = line
	if i := strings.LastIndexAny(line, " \t"); i > 0 && strings.HasPrefix(line[i+1:], "h1:") {
		plugin, sum = strings.TrimSpace(line[:i]), line[i+1:]
	}
	if strings.ContainsAny(plugin, " \t") && !strings.ContainsAny(plugin, `/\`) {
		return "", "", errors.New("want a plugin and, optionally, its h1: hash")
	}
	if spec.IsLocal(plugin) && !filepath.IsAbs(plugin) && !strings.HasPrefix(plugin, "/") {
		plugin = filepath.Join(dir, plugin)
	}
	return plugin, sum, nil
}

// lockKey names the plugin of a lock line, whatever version it asks for:
// its folder, or its import path or catalog name.
func lockKey(plugin string) string {
	if spec.IsLocal(plugin) {
		return filepath.Clean(plugin)
	}
	path, _, _ := strings.Cut(plugin, "@")
	return path
}

// writeLock prints the plugins and the process plugins as a lock file.
func writeLock(w io.Writer, program string, plugins []selfcompile.PluginInfo, processes []selfcompile.ProcessPlugin) error {
	fmt.Fprintln(w, lockHeader)
	fmt.Fprintf(w, "# The plugins of %s (%s plugin list --lock); %s plugin sync FILE installs exactly these.\n", program, program, program)
	for _, p := range plugins {
		s := p.String()
		if p.Local != "" {
			s = p.Local
		}
		if p.Origin == "host" {
			s = p.ImportPath
		}
		if _, err := fmt.Fprintln(w, strings.TrimSpace(s+" "+p.Sum)); err != nil {
			return err
		}
	}
	for _, p := range processes {
		if _, err := fmt.Fprintln(w, processPrefix+processSpec(p)); err != nil {
			return err
		}
	}
	return nil
}
