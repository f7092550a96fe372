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
// comments. A file that holds the line lockHeader is read from the line
// after it.

// lockHeader is the first line plugin list --lock prints. What comes
// before it in a file is not the lock: it is what the program's plugins
// printed in init, before the command ran, when the list was sent to the
// file through standard output.
const lockHeader = "# go-selfcompile lock file"

// sync makes the installed plugins exactly those the file lists.
func (cmd *Command) sync(r *run, args []string) error {
	if len(args) != 1 {
		return cmd.usage("sync", "name one file")
	}
	ch, err := readLock(args[0])
	if err != nil {
		return err
	}
	return cmd.apply(r, ch)
}

// readLock reads a lock file as the change that installs exactly what it
// lists. A plugin listed twice is refused, with both lines named.
func readLock(name string) (selfcompile.Change, error) {
	ch := selfcompile.Change{Exactly: true, Sums: map[string]string{}}
	data, err := os.ReadFile(name)
	if err != nil {
		return ch, err
	}
	dir, err := filepath.Abs(filepath.Dir(name))
	if err != nil {
		return ch, err
	}
	lines := strings.Split(string(data), "\n")
	first := slices.IndexFunc(lines, func(l string) bool { return strings.TrimSpace(l) == lockHeader }) + 1
	seen := map[string]int{} // the plugin (import path, name or folder) -> its line
	for i := first; i < len(lines); i++ {
		p, sum, err := parseLockLine(lines[i], dir)
		if err != nil {
			return ch, fmt.Errorf("%s:%d: %v", name, i+1, err)
		}
		if p == "" {
			continue
		}
		key := lockKey(p)
		if at, ok := seen[key]; ok {
			return ch, fmt.Errorf("%s:%d: %s is already listed at %s:%d: keep one of the two lines", name, i+1, key, name, at)
		}
		seen[key] = i + 1
		if sum != "" {
			ch.Sums[p] = sum
		}
		ch.Add = append(ch.Add, p)
	}
	return ch, nil
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

// writeLock prints the plugins as a lock file.
func writeLock(w io.Writer, program string, plugins []selfcompile.PluginInfo) error {
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
	return nil
}
