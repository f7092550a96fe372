package generate

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

// The generator refuses to run at a version other than the library's that
// the host requires, and says which go get fixes it.
func TestCheckVersion(t *testing.T) {
	gen := func(version string, replace *debug.Module) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "github.com/shazow/go-selfcompile", Version: version, Replace: replace}}
	}
	dep := func(version string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Path: "example.com/tools"}, Deps: []*debug.Module{{Path: "github.com/shazow/go-selfcompile", Version: version}}}
	}
	for _, c := range []struct {
		name, gomod string
		self        *debug.BuildInfo
		says        string // "" for no error
	}{
		{"same version", "module example.com/host\n\nrequire github.com/shazow/go-selfcompile v1.2.0\n", dep("v1.2.0"), ""},
		{"older generator", "module example.com/host\n\nrequire github.com/shazow/go-selfcompile v1.2.0\n", dep("v1.1.0"), "go get -tool github.com/shazow/go-selfcompile/cmd/go-selfcompile@v1.2.0"},
		{"not required", "module example.com/host\n", dep("v1.2.0"), "does not require github.com/shazow/go-selfcompile"},
		{"replaced by a directory", "module example.com/host\n\nrequire github.com/shazow/go-selfcompile v1.2.0\n\nreplace github.com/shazow/go-selfcompile => ../lib\n",
			gen("v1.2.0", &debug.Module{Path: "../lib", Version: "(devel)"}), ""},
		{"the replacement differs", "module example.com/host\n\nrequire github.com/shazow/go-selfcompile v1.2.0\n\nreplace github.com/shazow/go-selfcompile => ../lib\n",
			dep("v1.2.0"), "must be the same version"},
		{"the library itself", "module github.com/shazow/go-selfcompile\n", dep("v0.0.1"), ""},
		{"no build info", "module example.com/host\n", nil, ""},
	} {
		gomod := filepath.Join(t.TempDir(), "go.mod")
		os.WriteFile(gomod, []byte(c.gomod), 0o644)
		err := checkVersion(c.self, gomod)
		switch {
		case c.says == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.says != "" && (err == nil || !strings.Contains(err.Error(), c.says)):
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.says)
		}
	}
}

// A module whose path is a prefix of an imported package's may provide it
// too, as far as the go command knows: its source goes into the bundle.
func TestShadowing(t *testing.T) {
	buildList := []string{
		"example.com/host",
		"github.com/dlclark/regexp2 v1.12.0",
		"github.com/dlclark/regexp2/v2 v2.2.1",
		"cloud.google.com/go v0.120.0",
		"cloud.google.com/go/storage v1.50.0",
		"example.com/lib v1.0.0 => ../lib",
		"example.com/unrelated v1.0.0",
	}
	imports := map[string]bool{"github.com/dlclark/regexp2/v2": true, "cloud.google.com/go/storage": true, "example.com/lib/x": true}
	got := shadowing(buildList, imports)
	slices.Sort(got)
	if want := []string{"cloud.google.com/go", "github.com/dlclark/regexp2"}; !slices.Equal(got, want) {
		t.Errorf("shadowing = %q, want %q", got, want)
	}
}
