//go:build unix

package selfcompile_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	selfcompile "github.com/shazow/go-selfcompile"
	"github.com/shazow/go-selfcompile/internal/bundle"
)

// TestInspectAndJSON: go-selfcompile inspect reads a binary without
// running it; the plugin command prints its plan and its list as JSON for
// configuration tools.
func TestInspectAndJSON(t *testing.T) {
	setupE2E(t)
	t.Parallel()
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
	testCleanOutput(t, bin)
}

// testCleanOutput: aplugin, installed in bin, prints in init, before the
// plugin command runs. plugin list --json -o FILE writes only the JSON,
// and the README's lock round trip through standard output works: sync
// skips what came before the lock and, the set being installed, builds
// nothing.
func testCleanOutput(t *testing.T, bin string) {
	dir := tempDir(t)
	listed := filepath.Join(dir, "plugins.json")
	if out := pluginCmd(t, bin, nil, "list", "--json", "-o", listed); out != "aplugin activated.\n" {
		t.Errorf("plugin list --json -o FILE printed %q", out)
	}
	var list []selfcompile.PluginInfo
	if data, err := os.ReadFile(listed); err != nil || json.Unmarshal(data, &list) != nil || len(list) != 1 || list[0].ImportPath != aplugin {
		t.Errorf("plugin list --json -o FILE wrote %q (%v), want the JSON of aplugin", data, err)
	}
	installed := unchanged(t, bin)
	script := fmt.Sprintf("cd %q && %q plugin list --lock > plugins.lock && %q plugin sync plugins.lock", dir, bin, bin)
	out, errOut, err := run(t, "/bin/sh", nil, "-c", script)
	if err != nil || !strings.Contains(out, "Nothing to do") {
		t.Errorf("the README's lock round trip: %v\n%s%s", err, out, errOut)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "plugins.lock")); !strings.HasPrefix(string(data), "aplugin activated.\n") {
		t.Errorf("the lock file does not begin with what aplugin printed, so the round trip proves nothing: %q", data)
	}
	installed()
}

// inspect refuses what is not a regular file at once (a FIFO would block
// a reader forever), and reports a damaged bundle as damaged, naming it,
// with a failing exit code.
func TestInspectRefuses(t *testing.T) {
	setupE2E(t)
	t.Parallel()
	dir := tempDir(t)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = command(dir, nil, e2e.gen, "inspect", fifo); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("inspect of a FIFO blocked")
	}
	if err == nil || !strings.Contains(string(out), "not a regular file") {
		t.Errorf("inspect of a FIFO: %v\n%s", err, out)
	}
	data, _ := os.ReadFile(e2e.abinary)
	sections, _ := bundle.Locate(bytes.NewReader(data), int64(len(data)))
	for _, s := range sections {
		if br, err := bundle.Open(io.NewSectionReader(s, 0, s.Size())); err == nil && br.Manifest.Kind == bundle.Toolchain {
			_, off, n := s.Outer()
			data[off+n/2] ^= 0xff
		}
	}
	damaged := filepath.Join(dir, "damaged")
	os.WriteFile(damaged, data, 0o755)
	out, err = command(dir, nil, e2e.gen, "inspect", damaged)
	if err == nil || !strings.Contains(string(out), "bundle is corrupt: the toolchain bundle's toolchain part is damaged") {
		t.Errorf("inspect of a damaged binary: %v\n%s", err, out)
	}
}
