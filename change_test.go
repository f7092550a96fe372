package selfcompile

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/module"

	"github.com/shazow/go-selfcompile/internal/gosrc"
)

func TestDesiredPlugins(t *testing.T) {
	installed := []PluginInfo{
		{ImportPath: "example.com/a", Module: "example.com/a", Version: "v1.0.0"},
		{ImportPath: "example.com/l/sub", Module: "example.com/l", Local: "/src/l/sub"},
	}
	local := map[string]string{"example.com/l": "/work/plugins/example.com/l"}
	changes := func(ch Change) *changeSet {
		cs, err := parseChanges(ch)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	for _, c := range []struct {
		name string
		cs   *changeSet
		want []pluginSpec // import path, version, moduleDir, isNew, pinned
	}{
		{"keep", changes(Change{}), []pluginSpec{
			{importPath: "example.com/a", version: "v1.0.0", pinned: true},
			{importPath: "example.com/l/sub", moduleDir: "/work/plugins/example.com/l"},
		}},
		{"remove", changes(Change{Remove: []string{"example.com/a"}}), []pluginSpec{
			{importPath: "example.com/l/sub", moduleDir: "/work/plugins/example.com/l"},
		}},
		{"upgrade one", changes(Change{Upgrade: []string{"example.com/a"}}), []pluginSpec{
			{importPath: "example.com/a", version: "upgrade", isNew: true},
			{importPath: "example.com/l/sub", moduleDir: "/work/plugins/example.com/l"},
		}},
		{"upgrade to a version", changes(Change{Upgrade: []string{"example.com/a@v0.9.0"}}), []pluginSpec{
			{importPath: "example.com/a", version: "v0.9.0", isNew: true},
			{importPath: "example.com/l/sub", moduleDir: "/work/plugins/example.com/l"},
		}},
		{"add replaces", changes(Change{Add: []string{"example.com/a@v2.0.0"}}), []pluginSpec{
			{importPath: "example.com/l/sub", moduleDir: "/work/plugins/example.com/l"},
			{importPath: "example.com/a", version: "v2.0.0", isNew: true},
		}},
		{"exactly", changes(Change{Add: []string{"example.com/a@v1.0.0", "example.com/b"}, Exactly: true}), []pluginSpec{
			{importPath: "example.com/a", version: "v1.0.0", isNew: true},
			{importPath: "example.com/b", isNew: true},
		}},
	} {
		got, err := desiredPlugins(installed, local, c.cs)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		var brief []pluginSpec
		for _, p := range got {
			brief = append(brief, pluginSpec{importPath: p.importPath, version: p.version, moduleDir: p.moduleDir, isNew: p.isNew, pinned: p.pinned})
		}
		if !reflect.DeepEqual(brief, c.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", c.name, brief, c.want)
		}
	}
	for _, ch := range []Change{{Remove: []string{"example.com/nope"}}, {Upgrade: []string{"example.com/nope"}}} {
		if _, err := desiredPlugins(installed, local, changes(ch)); !errors.Is(err, ErrInvalidPlugin) {
			t.Errorf("%+v of a plugin not installed: %v", ch, err)
		}
	}
	// A plugin added twice (here at two versions) is refused by the plan
	// too, naming both, not only by the build that writes the stub.
	twice := changes(Change{Add: []string{"example.com/b@v1.0.0", "example.com/b@v1.1.0"}, Exactly: true})
	if _, err := desiredPlugins(installed, local, twice); !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), "example.com/b@v1.0.0") {
		t.Errorf("a plugin added twice: %v, want ErrInvalidPlugin naming both", err)
	}
}

// TestUpgradeFolder: plugin upgrade ./folder carries the folder of an
// installed local plugin again, wherever it now is, as add does; a folder
// whose package is not installed is refused, saying to add it.
func TestUpgradeFolder(t *testing.T) {
	root := t.TempDir()
	for name, content := range map[string]string{"l/go.mod": "module example.com/l\n", "l/sub/p.go": "package sub\n", "n/go.mod": "module example.com/n\n", "n/p.go": "package n\n"} {
		os.MkdirAll(filepath.Dir(filepath.Join(root, name)), 0o755)
		os.WriteFile(filepath.Join(root, name), []byte(content), 0o644)
	}
	installed := []PluginInfo{{ImportPath: "example.com/l/sub", Module: "example.com/l", Local: "/src/l/sub"}}
	cs, err := parseChanges(Change{Upgrade: []string{filepath.Join(root, "l", "sub")}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := desiredPlugins(installed, nil, cs)
	if err != nil || len(got) != 1 || got[0].importPath != "example.com/l/sub" || got[0].moduleDir != filepath.Join(root, "l") || !got[0].isNew {
		t.Errorf("upgrade of an installed plugin's folder: %v %+v; want it carried again from %s", err, got, filepath.Join(root, "l"))
	}
	cs, err = parseChanges(Change{Upgrade: []string{filepath.Join(root, "n")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := desiredPlugins(installed, nil, cs); !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), "add it instead") {
		t.Errorf("upgrade of a folder not installed: %v; want it refused, saying to add it", err)
	}
}

func TestMakePlan(t *testing.T) {
	host := gosrc.BuildList{
		"example.com/host":       {Path: "example.com/host", Main: true},
		"github.com/spf13/pflag": {Path: "github.com/spf13/pflag", Version: "v1.1.0"},
		"golang.org/x/sys":       {Path: "golang.org/x/sys", Version: "v0.49.0"},
		"example.com/lib":        {Path: "example.com/lib", Version: "v1.0.0", Replace: &module.Version{Path: "../lib"}},
	}
	after := gosrc.BuildList{
		"example.com/host":       {Path: "example.com/host", Main: true},
		"github.com/spf13/pflag": {Path: "github.com/spf13/pflag", Version: "v1.1.0", Replace: &module.Version{Path: "../../plugins/github.com/spf13/pflag"}},
		"golang.org/x/sys":       {Path: "golang.org/x/sys", Version: "v0.48.0"},
		"example.com/lib":        {Path: "example.com/lib", Version: "v1.0.0", Replace: &module.Version{Path: "../lib"}},
	}
	installed := []PluginInfo{
		{ImportPath: "example.com/a", Module: "example.com/a", Version: "v1.2.0-rc.1"},
		{ImportPath: "example.com/gone", Module: "example.com/gone", Version: "v1.0.0"},
		{ImportPath: "example.com/l", Module: "example.com/l", Local: "/src/l", Sum: "h1:old"},
	}
	plugins := []PluginInfo{
		{ImportPath: "example.com/a", Module: "example.com/a", Version: "v1.1.0"},
		{ImportPath: "example.com/l", Module: "example.com/l", Local: "/src/l", Sum: "h1:new"},
		{ImportPath: "github.com/spf13/pflag", Module: "github.com/spf13/pflag", Local: "/src/pflag"},
	}
	p := makePlan("/bin/host", installed, plugins, host, nil, after)
	if len(p.Added) != 1 || p.Added[0].ImportPath != "github.com/spf13/pflag" {
		t.Errorf("added %v", p.Added)
	}
	if len(p.Removed) != 1 || p.Removed[0].ImportPath != "example.com/gone" {
		t.Errorf("removed %v", p.Removed)
	}
	wantUp := []VersionChange{
		{Path: "example.com/a", Old: "v1.2.0-rc.1", New: "v1.1.0", Lower: true},
		{Path: "example.com/l", Old: "local /src/l (h1:old)", New: "local /src/l (h1:new)"},
	}
	if !reflect.DeepEqual(p.Upgraded, wantUp) {
		t.Errorf("upgraded\n got %+v\nwant %+v", p.Upgraded, wantUp)
	}
	// A local folder that is a module of the host moves it, though the
	// version go list shows stays; a lower version says so; a module the
	// host replaces by a directory the same way has not moved.
	wantHost := []VersionChange{
		{Path: "github.com/spf13/pflag", Old: "v1.1.0", New: "local /src/pflag"},
		{Path: "golang.org/x/sys", Old: "v0.49.0", New: "v0.48.0", Lower: true},
	}
	if !reflect.DeepEqual(p.HostDeps, wantHost) {
		t.Errorf("host deps\n got %+v\nwant %+v", p.HostDeps, wantHost)
	}
	if p.Empty() {
		t.Error("the plan is empty")
	}
	if same := makePlan("/bin/host", installed[:1], installed[:1], host, nil, host); !same.Empty() || len(same.HostDeps) > 0 {
		t.Errorf("the same plugins and build list give %+v", same)
	}

	// Host modules move from the installed binary's build list: a plugin
	// added beside one that raised x/sys moves nothing; removing the local
	// folder that is pflag moves it back.
	withA := []PluginInfo{plugins[2], {ImportPath: "example.com/raises", Module: "example.com/raises", Version: "v1.0.0"}}
	last := gosrc.BuildList{
		"example.com/host":       host["example.com/host"],
		"github.com/spf13/pflag": after["github.com/spf13/pflag"],
		"golang.org/x/sys":       {Path: "golang.org/x/sys", Version: "v0.50.0"},
		"example.com/lib":        host["example.com/lib"],
		"example.com/raises":     {Path: "example.com/raises", Version: "v1.0.0"},
	}
	next := maps.Clone(last)
	next["example.com/b"] = gosrc.Module{Path: "example.com/b", Version: "v1.0.0"}
	if p := makePlan("/bin/host", withA, append(withA, PluginInfo{ImportPath: "example.com/b", Module: "example.com/b", Version: "v1.0.0"}), host, last, next); len(p.HostDeps) > 0 {
		t.Errorf("a plugin that moves nothing the installed binary has: host deps %+v", p.HostDeps)
	}
	next = maps.Clone(last)
	next["github.com/spf13/pflag"] = host["github.com/spf13/pflag"]
	want := []VersionChange{{Path: "github.com/spf13/pflag", Old: "local /src/pflag", New: "v1.1.0"}}
	if p := makePlan("/bin/host", withA, withA[1:], host, last, next); !reflect.DeepEqual(p.HostDeps, want) {
		t.Errorf("removing the folder that is pflag: host deps\n got %+v\nwant %+v", p.HostDeps, want)
	}
}
