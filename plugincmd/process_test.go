package plugincmd

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	selfcompile "github.com/shazow/go-selfcompile"
)

// add, upgrade and remove --process take none of the flags of a rebuild of
// the program, and remove and upgrade --process name a plugin that is not
// installed as such; upgrade --process with none installed says so.
func TestProcessFlags(t *testing.T) {
	sc := selfcompile.SelfCompile{ProcessDir: t.TempDir()}
	for _, args := range [][]string{
		{"add", "--process", "--dry-run", "./x"},
		{"remove", "--process", "--json", "x"},
		{"upgrade", "--process", "--dry-run"},
		{"rollback", "x"},
		{"rollback", "--process"},
	} {
		if _, errOut, code := runCmd(t, sc, args...); code != ExitUsage || !strings.Contains(errOut, "usage: mytool plugin") {
			t.Errorf("%q: exit code %d, stderr %q; want a usage error", args, code, errOut)
		}
	}
	if _, errOut, code := runCmd(t, sc, "remove", "--process", "nothere"); code == ExitOK || !strings.Contains(errOut, `plugin "nothere": no process plugin of that name is installed`) {
		t.Errorf("remove --process of a plugin not installed: exit code %d, stderr %q", code, errOut)
	}
	if _, errOut, code := runCmd(t, sc, "upgrade", "--process", "nothere"); code == ExitOK || !strings.Contains(errOut, `plugin "nothere": no process plugin of that name is installed`) {
		t.Errorf("upgrade --process of a plugin not installed: exit code %d, stderr %q", code, errOut)
	}
	if out, _, code := runCmd(t, sc, "upgrade", "--process"); code != ExitOK || out != "No process plugins installed.\n" {
		t.Errorf("upgrade --process with none installed: exit code %d, stdout %q", code, out)
	}
	if out, _, code := runCmd(t, sc, "add", "--help"); code != ExitOK || !strings.Contains(out, "--process") {
		t.Errorf("add --help does not show --process:\n%s", out)
	}
}

// list --process prints the process plugins alone, and with --json as
// their manifest records them.
func TestListProcesses(t *testing.T) {
	dir := t.TempDir()
	sc := selfcompile.SelfCompile{ProcessDir: dir}
	if out, _, code := runCmd(t, sc, "list", "--process"); code != ExitOK || out != "No process plugins installed.\n" {
		t.Errorf("list --process with none: exit code %d, %q", code, out)
	}
	if out, _, code := runCmd(t, sc, "list", "--process", "--json"); code != ExitOK || strings.TrimSpace(out) != "[]" {
		t.Errorf("list --process --json with none: exit code %d, %q", code, out)
	}
	manifest := `{"plugins":[{"name":"hello","importPath":"example.com/hello","module":"example.com/hello","version":"v1.2.0","sum":"h1:x=","origin":"module","sha256":"ab"}]}`
	if err := os.WriteFile(filepath.Join(dir, selfcompile.ProcessManifest), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, _, code := runCmd(t, sc, "list", "--process"); code != ExitOK || out != "example.com/hello process hello v1.2.0\n" {
		t.Errorf("list --process: exit code %d, %q", code, out)
	}
	out, _, code := runCmd(t, sc, "list", "--process", "--json")
	var got []selfcompile.ProcessPlugin
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != ExitOK || len(got) != 1 || got[0].Sum != "h1:x=" || got[0].Origin != "module" || got[0].Version != "v1.2.0" {
		t.Errorf("list --process --json: exit code %d, %v, %q", code, err, out)
	}
	if _, _, code := runCmd(t, sc, "list", "--process", "--lock"); code != ExitUsage {
		t.Errorf("list --process --lock: exit code %d, want a usage error", code)
	}
}

// plugin sync changes the process plugins only once the program's own
// change succeeded: a failed one leaves them installed, and --json keeps
// standard output for the plan.
func TestSyncProcessesAfterProgram(t *testing.T) {
	dir := t.TempDir()
	manifest := `{"plugins":[{"name":"hello","importPath":"example.com/hello","module":"example.com/hello","version":"v1.2.0","sha256":"ab"}]}`
	if err := os.WriteFile(filepath.Join(dir, selfcompile.ProcessManifest), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(t.TempDir(), "plugins.lock")
	writeFile(t, lock, lockHeader+"\n")
	sc := selfcompile.SelfCompile{ProcessDir: dir, CacheDir: t.TempDir()} // the test binary has no bundle: the program's change fails
	for _, args := range [][]string{{"sync", lock}, {"sync", "--json", lock}} {
		out, _, code := runCmd(t, sc, args...)
		if code == ExitOK || strings.Contains(out, "process plugin") {
			t.Errorf("%q: exit code %d, stdout %q; want a failure that leaves the process plugins", args, code, out)
		}
		if got, err := selfcompile.ReadProcessPlugins(dir); err != nil || len(got) != 1 {
			t.Fatalf("%q: the process plugins after a failed sync: %v, %v", args, got, err)
		}
	}
}
