package selfcompile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPluginFromTemplate: a plugin's author starts from go-selfcompile
// plugin-template, tries the plugin in the program with plugin add ./dir,
// changes it and carries it again with plugin upgrade ./dir, as
// docs/plugin-authors.md says.
func TestPluginFromTemplate(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	dir := filepath.Join(tempDir(t), "hello")
	if out, err := command(e2e.work, nil, e2e.gen, "plugin-template", "--module", "example.com/you/hello", "--program", "example-abinary", dir); err != nil {
		t.Fatalf("plugin-template: %v\n%s", err, out)
	}
	bin := installedCopy(t)
	pluginCmd(t, bin, nil, "add", dir)
	if list := pluginCmd(t, bin, nil, "list"); !strings.Contains(list, "example.com/you/hello local "+dir) {
		t.Errorf("plugin list after adding the template: %q", list)
	}
	if out := mustRun(t, bin); out != "Just doing binary things\n" {
		t.Errorf("the program with the template installed: %q", out)
	}
	code := "package hello\n\nimport \"fmt\"\n\nfunc init() { fmt.Println(\"hello, registered\") }\n"
	if err := os.WriteFile(filepath.Join(dir, "hello.go"), []byte(code), 0o644); err != nil {
		t.Fatal(err)
	}
	pluginCmd(t, bin, nil, "upgrade", dir)
	if out := mustRun(t, bin); out != "hello, registered\nJust doing binary things\n" {
		t.Errorf("after plugin upgrade of the changed folder: %q", out)
	}
}
