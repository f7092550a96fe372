package plugincmd

import (
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
