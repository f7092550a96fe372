package selfcompile_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginsSurviveUpgrade: a package manager puts the next release of
// the program at the path where plugins were installed into the previous
// one. plugin list says which plugins are missing and how to get them
// back; plugin restore --dry-run shows the plan and changes nothing;
// plugin restore installs them into the new release in one rebuild, and
// they run when the program starts.
func TestPluginsSurviveUpgrade(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	local := filepath.Join(tempDir(t), "pluginr")
	writePlugin(t, local, "example.com/pluginr", "pluginr activated.")
	pluginCmd(t, bin, nil, "add", aplugin, local)
	if out := mustRun(t, bin); out != "pluginr activated.\naplugin activated.\nJust doing binary things\n" {
		t.Fatalf("after the add: %q", out)
	}
	if out := pluginCmd(t, bin, nil, "restore"); !strings.Contains(out, "Nothing to restore") {
		t.Errorf("restore before any upgrade: %q", out)
	}

	// The upgrade: a new file at the same path, another build (version 2.0.0-e2e,
	// where the installed one says 1.2.3-e2e).
	copyBinary(t, secondBuild(t), bin)
	if out := mustRun(t, bin, "--version"); out != "example-abinary 2.0.0-e2e\n" {
		t.Fatalf("the upgraded program: %q", out)
	}
	out, errOut, err := run(t, bin, nil, "plugin", "list")
	if err != nil || out != "No plugins installed.\n" {
		t.Fatalf("plugin list after the upgrade: %v\n%s%s", err, out, errOut)
	}
	for _, want := range []string{"Missing: 2 plugin(s)", aplugin + " host", "example.com/pluginr local " + local, "example-abinary plugin restore"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("plugin list's notice lacks %q:\n%s", want, errOut)
		}
	}
	missing, err := installer(t, bin).Missing()
	if err != nil || len(missing) != 2 {
		t.Errorf("Missing: %v, %+v", err, missing)
	}

	upgraded := unchanged(t, bin)
	out = pluginCmd(t, bin, nil, "restore", "--dry-run")
	for _, want := range []string{"add      " + aplugin + " host", "add      example.com/pluginr local " + local, "Dry run: nothing changed."} {
		if !strings.Contains(out, want) {
			t.Errorf("restore --dry-run lacks %q:\n%s", want, out)
		}
	}
	upgraded()

	if out := pluginCmd(t, bin, nil, "restore"); !strings.Contains(out, "Success.") {
		t.Errorf("restore: %q", out)
	}
	if out := mustRun(t, bin, "--version"); out != "pluginr activated.\naplugin activated.\nexample-abinary 2.0.0-e2e\n" {
		t.Fatalf("after the restore: %q", out)
	}
	if out, errOut, err := run(t, bin, nil, "plugin", "list"); err != nil || strings.Contains(errOut, "Missing") || !strings.Contains(out, "example.com/pluginr") {
		t.Errorf("plugin list after the restore: %v\n%s%s", err, out, errOut)
	}
}
