package gosrc

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/mod/module"
)

// Module is a module of a build list, as go list -m all prints it.
type Module struct {
	Path, Version string
	Main          bool
	// Replace is what replaces the module: a module version, or a
	// directory (Version empty).
	Replace *module.Version
}

// BuildList is a build list, by module path.
type BuildList map[string]Module

// ParseModList reads the plain output of go list -m all: "path" for the
// main module, "path version", and "path version => path version" or
// "path version => dir" for replaced modules. (The -json form would make
// the go command fetch every module's .info file, for its time, which an
// offline install does not have.)
func ParseModList(lines []string) (BuildList, error) {
	mods := BuildList{}
	for i, line := range lines {
		f := strings.Fields(line)
		var m Module
		switch {
		case len(f) == 0:
			continue
		case len(f) == 1 && i == 0:
			m = Module{Path: f[0], Main: true}
		case len(f) == 2:
			m = Module{Path: f[0], Version: f[1]}
		case len(f) == 4 && f[2] == "=>":
			m = Module{Path: f[0], Version: f[1], Replace: &module.Version{Path: f[3]}}
		case len(f) == 5 && f[2] == "=>":
			m = Module{Path: f[0], Version: f[1], Replace: &module.Version{Path: f[3], Version: f[4]}}
		default:
			return nil, fmt.Errorf("unexpected go list -m line %q", line)
		}
		mods[m.Path] = m
	}
	return mods, nil
}

// Lines returns the build list as go list -m all prints it, sorted, the
// main module first.
func (l BuildList) Lines() []string {
	var main string
	var lines []string
	for _, path := range slices.Sorted(maps.Keys(l)) {
		switch m := l[path]; {
		case m.Main:
			main = m.Path
		case m.Replace == nil:
			lines = append(lines, m.Path+" "+m.Version)
		default:
			lines = append(lines, strings.TrimSpace(m.Path+" "+m.Version+" => "+m.Replace.Path+" "+m.Replace.Version))
		}
	}
	slices.Sort(lines)
	return append([]string{main}, lines...)
}

// Cached returns the module version whose files the module cache holds for
// m: m itself, or what it is replaced by. A module replaced by a
// directory, and the main module, have none.
func (m Module) Cached() (module.Version, bool) {
	switch {
	case m.Main:
		return module.Version{}, false
	case m.Replace == nil:
		return module.Version{Path: m.Path, Version: m.Version}, true
	case m.Replace.Version != "":
		return *m.Replace, true
	}
	return module.Version{}, false
}
