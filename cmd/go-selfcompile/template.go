package main

import (
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/mod/module"
)

// runTemplate writes a new plugin module into a directory: go.mod, a
// package whose init registers with the program (a line to fill in), and
// a README that says how to try it and how to publish it
// (docs/plugin-authors.md says the same at length).
func runTemplate(args []string, stdout, stderr io.Writer) error {
	fs := pflag.NewFlagSet("go-selfcompile plugin-template", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	mod := fs.String("module", "", "the plugin's module `PATH`, as in github.com/you/mytool-hello (required)")
	program := fs.String("program", "mytool", "the `NAME` of the program the plugin is for, for the README")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || *mod == "" {
		return fmt.Errorf("usage: go-selfcompile plugin-template --module PATH [--program NAME] DIR")
	}
	if err := module.CheckPath(*mod); err != nil {
		return fmt.Errorf("--module %s: %v", *mod, err)
	}
	dir := fs.Arg(0)
	files := templateFiles(*mod, *program, filepath.Base(dir))
	for name := range files {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return fmt.Errorf("%s already exists: the template writes only into a new folder, or one without its files", filepath.Join(dir, name))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, content := range files {
		if err := writeNew(filepath.Join(dir, name), content, 0o644); err != nil {
			return err
		}
	}
	fmt.Fprintf(stdout, "wrote the plugin module %s in %s: fill in its init, then run %s plugin add %s\n", *mod, dir, *program, dir)
	return nil
}

// templateFiles returns the files of a new plugin module, by name, for a
// folder named folder.
func templateFiles(mod, program, folder string) map[string]string {
	pkg := packageName(mod)
	goVersion := strings.TrimPrefix(runtime.Version(), "go")
	if parts := strings.SplitN(goVersion, ".", 3); len(parts) >= 2 {
		goVersion = parts[0] + "." + parts[1]
	}
	return map[string]string{
		"go.mod": fmt.Sprintf("module %s\n\ngo %s\n", mod, goVersion),
		pkg + ".go": fmt.Sprintf(`// Package %[1]s is a plugin for %[2]s: importing it is installing it.
package %[1]s

// init registers the plugin with %[2]s, and does nothing else: it runs at
// every start of the program, in the install's check of the new binary,
// and wherever the program is built. Call your program's registry here,
// for example:
//
//	func init() { registry.Register("%[1]s", New) }
//
// with the registry package's import path in an import block.
func init() {}
`, pkg, program),
		"README.md": fmt.Sprintf(`# %[1]s

A plugin for %[2]s.

Try it, from this folder's parent:

    %[2]s plugin add ./%[3]s       # compile it into %[2]s; no network needed
    %[2]s plugin upgrade ./%[3]s   # after a change, carry the folder again
    %[2]s plugin remove %[1]s

Publish it: push this module where the module proxy finds it (its path is
%[1]s), tag a version (git tag v1.0.0 && git push --tags), and users run

    %[2]s plugin add %[1]s@v1.0.0

Your go.mod's replace lines are not followed by installs, and what it
requires may raise the modules of %[2]s (the plan says so): require the
lowest versions that work.
`, mod, program, folder),
	}
}

// packageName returns a Go package name for a module path: its last
// element, lowered, without what a name cannot hold, and without a
// major version suffix.
func packageName(mod string) string {
	base := path.Base(mod)
	if strings.HasPrefix(base, "v") && len(base) > 1 && strings.Trim(base[1:], "0123456789") == "" {
		base = path.Base(path.Dir(mod))
	}
	name := regexp.MustCompile(`[^a-z0-9_]`).ReplaceAllString(strings.ToLower(base), "")
	if name == "" || name[0] >= '0' && name[0] <= '9' {
		name = "plugin" + name
	}
	return name
}
