package selfcompile_test

import (
	"encoding/json"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// TestInspectAndJSON: go-selfcompile inspect reads a binary without
// running it; the plugin command prints its plan and its list as JSON for
// configuration tools.
func TestInspectAndJSON(t *testing.T) {
	setupE2E(t)
	bin := installedCopy(t)
	out, err := command(e2e.work, nil, e2e.gen, "inspect", bin)
	if err != nil || !strings.Contains(string(out), "github.com/shazow/go-selfcompile/example/abinary linux/amd64") || !strings.Contains(string(out), "toolchain linux/amd64") {
		t.Errorf("go-selfcompile inspect: %v\n%s", err, out)
	}
	plan := pluginCmd(t, bin, nil, "add", "--dry-run", "--json", aplugin)
	var p selfcompile.Plan
	if err := json.Unmarshal([]byte(plan[strings.Index(plan, "{"):]), &p); err != nil || len(p.Added) != 1 || p.Added[0].ImportPath != aplugin {
		t.Errorf("plugin add --dry-run --json: %v\n%s", err, plan)
	}
	pluginCmd(t, bin, nil, "add", aplugin)
	var list []selfcompile.PluginInfo
	if err := json.Unmarshal([]byte(pluginCmd(t, bin, nil, "list", "--json")[len("aplugin activated.\n"):]), &list); err != nil || len(list) != 1 || list[0].ImportPath != aplugin {
		t.Errorf("plugin list --json: %v %+v", err, list)
	}
}
