//go:build unix

package selfcompile_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/bundle"
)

// A plugin's folder goes into the binary only as far as the build uses
// it: not its dotfiles, data, files reached through symlinks, or what else
// shares its module when go.mod sits high, as in a home directory. The
// plan says what is carried. A package file that leaves the module through
// a symlink is refused.
func TestPluginFolderCarriesOnlyWhatBuilds(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	home := tempDir(t)
	outside := filepath.Join(tempDir(t), "outside.txt")
	os.WriteFile(outside, []byte("not the plugin's"), 0o644)
	writeFiles(t, home, map[string]string{
		"go.mod":                    "module example.com/home\n\ngo 1.26\n",
		"LICENSE":                   "MIT\n",
		".ssh/id_ed25519":           "PRIVATE KEY",
		"Documents/taxes.pdf":       strings.Repeat("x", 2<<20),
		"other/other.go":            "package other\n\nconst Secret = \"another package of the module\"\n",
		"src/plugin/plugin.go":      "package plugin\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/home/src/plugin/util\"\n)\n\nfunc init() { fmt.Println(\"home plugin activated.\", util.X) }\n",
		"src/plugin/util/util.go":   "package util\n\nconst X = 1\n",
		"src/plugin/.env":           "TOKEN=secret",
		"src/plugin/data.bin":       strings.Repeat("\x00", 3<<20),
		"src/plugin/plugin_test.go": "package plugin\n",
	})
	os.Symlink(outside, filepath.Join(home, "src", "plugin", "notes.txt"))
	spec := filepath.Join(home, "src", "plugin")
	want := []string{"LICENSE", "go.mod", "src/plugin/plugin.go", "src/plugin/util/util.go"}

	target := installedCopy(t)
	sc := installer(t, target)
	plan, err := sc.Plan(t.Context(), selfcompile.Change{Add: []string{spec}})
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Carried["example.com/home/src/plugin"]; !slices.Equal(got, want) {
		t.Errorf("the plan carries %q, want %q", got, want)
	}
	if _, err := sc.Apply(t.Context(), selfcompile.Change{Add: []string{spec}}); err != nil {
		t.Fatal(err)
	}
	var carried []string
	for _, name := range partFiles(t, target, bundle.Plugins, bundle.PartLocal) {
		carried = append(carried, strings.TrimPrefix(name, "example.com/home/"))
	}
	if !slices.Equal(carried, want) {
		t.Errorf("the binary carries %q, want %q", carried, want)
	}

	// A Go file that is a symlink out of the module is refused.
	linked := filepath.Join(tempDir(t), "linked")
	writePlugin(t, linked, "example.com/linked", "linked activated.")
	evil := filepath.Join(tempDir(t), "evil.go")
	os.WriteFile(evil, []byte("package linked\n"), 0o644)
	os.Symlink(evil, filepath.Join(linked, "evil.go"))
	unchangedBin := unchanged(t, target)
	sc = installer(t, target)
	sc.Plugin(linked)
	if err := sc.Compile(); !errors.Is(err, selfcompile.ErrInvalidPlugin) || !strings.Contains(err.Error(), "outside") || !strings.Contains(err.Error(), "evil.go") {
		t.Errorf("a symlink out of the plugin's module: %v", err)
	}
	unchangedBin()
}

// A dry run on a plugin folder that is a git work tree runs nothing of its
// git configuration: core.fsmonitor is the classic way to run a command.
func TestPluginFolderGitConfigNotRun(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	plug := filepath.Join(tempDir(t), "gitplug")
	writePlugin(t, plug, "example.com/gitplug", "gitplug activated.")
	marker := filepath.Join(tempDir(t), "fsmonitor-ran")
	for _, args := range [][]string{{"init", "-q"}, {"config", "core.fsmonitor", "touch " + marker + "; false"}, {"add", "."}} {
		if out, err := command(plug, nil, "git", args...); err != nil {
			t.Skipf("git %v: %v %s", args, err, out)
		}
	}
	os.Remove(marker) // git add may have run it
	bin := installedCopy(t)
	pluginCmd(t, bin, nil, "add", "--dry-run", plug)
	pluginCmd(t, bin, nil, "add", plug)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the plugin folder's core.fsmonitor ran")
	}
}
