package selfcompile_test

import (
	"strconv"
	"strings"
	"testing"
)

// TestRestart: with --restart, the new binary takes over the process that
// installed it, with the same arguments and the same process ID, as a
// service manager expects. Run again as the new binary, the command finds
// nothing to change and does not restart again.
func TestRestart(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	bin := installedCopy(t)
	plug := plugin(t, map[string]string{"go.mod": "module example.com/pid\n\ngo 1.26\n",
		"pid.go": "package pid\n\nimport (\n\t\"fmt\"\n\t\"os\"\n)\n\nfunc init() { fmt.Println(\"pid plugin in process\", os.Getpid()) }\n"})
	r := start(t, bin, nil, "plugin", "add", "--restart", plug)
	if err := r.wait(); err != nil {
		t.Fatalf("install with --restart: %v\n%s%s", err, r.stdout.String(), r.stderr.String())
	}
	out := r.stdout.String()
	want := "Success.\nRestarting.\npid plugin in process " + strconv.Itoa(r.cmd.Process.Pid) + "\n"
	if !strings.Contains(out, want) || strings.Count(out, "Restarting.") != 1 || !strings.HasSuffix(out, "Nothing to do: the plugins are already as asked.\n") {
		t.Fatalf("output:\n%s\nwant it to contain:\n%s", out, want)
	}
}
