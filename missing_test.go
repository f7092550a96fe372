package selfcompile

import (
	"slices"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/catalog"
)

// A plugin chosen by name in the catalog goes back at the newest version
// the catalog allows for the new version of the program; one whose every
// version's host range excludes it is named, with the range, and not
// installed; the others go back as they were.
func TestRestoreChangeHostRange(t *testing.T) {
	cat := &catalog.Catalog{Plugins: []catalog.Plugin{
		{Name: "metrics", ImportPath: "example.com/metrics/plugin", Module: "example.com/metrics", Versions: []catalog.Version{
			{Version: "v1.0.0", Sum: "h1:one=", Hosts: "<v2.0.0"},
			{Version: "v2.0.0", Sum: "h1:two=", Hosts: ">=v2.0.0"},
		}},
		{Name: "legacy", ImportPath: "example.com/legacy", Module: "example.com/legacy", Versions: []catalog.Version{
			{Version: "v1.0.0", Sum: "h1:old=", Hosts: "<v2.0.0"},
		}},
	}}
	missing := []PluginInfo{
		{ImportPath: "example.com/metrics/plugin", Module: "example.com/metrics", Version: "v1.0.0", Origin: "catalog", Name: "metrics", Sum: "h1:one="},
		{ImportPath: "example.com/legacy", Module: "example.com/legacy", Version: "v1.0.0", Origin: "catalog", Name: "legacy", Sum: "h1:old="},
		{ImportPath: "example.com/other", Module: "example.com/other", Version: "v0.3.0", Origin: "module", Sum: "h1:other="},
		{ImportPath: "example.com/gone", Local: t.TempDir() + "/gone", Origin: "local"},
	}
	ch, unfit := restoreChange(missing, cat, "v2.1.0")
	if want := []string{"metrics", "example.com/other@v0.3.0"}; !slices.Equal(ch.Add, want) {
		t.Errorf("added %q, want %q", ch.Add, want)
	}
	if ch.Sums["example.com/other"] != "h1:other=" || len(ch.Sums) != 1 {
		t.Errorf("sums %v: want only the module plugin's", ch.Sums)
	}
	if len(unfit) != 2 || unfit[0].Plugin != "example.com/legacy" || !strings.Contains(unfit[0].Reason, "v2.1.0") ||
		unfit[1].Plugin != "example.com/gone" || !strings.Contains(unfit[1].Reason, "is gone") {
		t.Fatalf("unfit: %+v", unfit)
	}

	// Under the old version, all of them but the folder that is gone fit.
	ch, unfit = restoreChange(missing, cat, "v1.5.0")
	if len(ch.Add) != 3 || len(unfit) != 1 {
		t.Errorf("on v1.5.0: added %q, unfit %+v", ch.Add, unfit)
	}
}
