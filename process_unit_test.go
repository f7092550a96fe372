package selfcompile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shazow/go-selfcompile/internal/fsutil"
	"github.com/shazow/go-selfcompile/internal/testutil"
)

// A process plugin's executable is named as go install names it, in a
// directory beside the program's executable.
func TestProcessNames(t *testing.T) {
	for path, want := range map[string]string{
		"example.com/hello":         "hello",
		"example.com/tools/cmd/x":   "x",
		"example.com/hello/v2":      "hello",
		"example.com/version/v2x":   "v2x",
		"example.com/hello/cmd/v10": "cmd",
	} {
		if got := processName(path); got != want {
			t.Errorf("processName(%q) = %q, want %q", path, got, want)
		}
	}
	if got, want := DefaultProcessDir(filepath.Join("opt", "tool.exe")), filepath.Join("opt", "tool.plugins"); got != want {
		t.Errorf("DefaultProcessDir = %q, want %q", got, want)
	}
}

// Only a local folder of a main package is a process plugin's spec; the
// error says why another is refused.
func TestProcessSpec(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFiles(t, dir, map[string]string{
		"go.mod":                "module example.com/p\n\ngo 1.26\n",
		"lib/lib.go":            "package lib\n",
		"cmd/p/main.go":         "package main\n\nfunc main() {}\n",
		"manifest.json/main.go": "package main\n\nfunc main() {}\n",
	})
	for spec, reason := range map[string]string{
		"example.com/p/cmd/p@not-a-version": "invalid version",
		filepath.Join(dir, "lib"):           "it is package lib, and a process plugin is a program",
		filepath.Join(dir, "manifest.json"): "a name the process plugins' directory keeps for itself",
	} {
		_, err := parseProcessSpec(spec)
		if !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), reason) {
			t.Errorf("%s: %v, want ErrInvalidPlugin saying %q", spec, err, reason)
		}
	}
	if sp, err := parseProcessSpec("example.com/q/cmd/q"); err != nil || sp.version != "latest" || sp.dir != "" {
		t.Errorf("an import path: %+v, %v; want it at latest, fetched later", sp, err)
	}
	sp, err := parseProcessSpec(filepath.Join(dir, "cmd", "p"))
	if err != nil || sp.importPath != "example.com/p/cmd/p" || sp.moduleDir != dir {
		t.Errorf("a main package: %+v, %v", sp, err)
	}
}

// The manifest is written whole, read back sorted with each executable's
// path, and an install again keeps the previous executable and its sum.
func TestProcessManifest(t *testing.T) {
	dir := t.TempDir()
	if got, err := ReadProcessPlugins(dir); err != nil || got != nil {
		t.Fatalf("no manifest: %v, %v", got, err)
	}
	place := func(name, content string) *ProcessPlugin {
		t.Helper()
		tmp := filepath.Join(dir, ".new")
		os.WriteFile(tmp, []byte(content), 0o755)
		sum, _ := fsutil.SHA256(tmp)
		p := &ProcessPlugin{Name: name, ImportPath: "example.com/" + name, SHA256: sum}
		if err := placeProcess(dir, p, tmp); err != nil {
			t.Fatal(err)
		}
		return p
	}
	place("zeta", "z1")
	first := place("alpha", "a1")
	second := place("alpha", "a2")
	got, err := ReadProcessPlugins(dir)
	if err != nil || len(got) != 2 || got[0].Name != "alpha" || got[1].Name != "zeta" || got[0].Path != filepath.Join(dir, "alpha"+exeSuffix()) {
		t.Fatalf("read back: %+v, %v", got, err)
	}
	if got[0].SHA256 != second.SHA256 || got[0].Previous != first.SHA256 {
		t.Errorf("alpha's sums: %s previous %s, want %s previous %s", got[0].SHA256, got[0].Previous, second.SHA256, first.SHA256)
	}
	if data, _ := os.ReadFile(got[0].Path + previousSuffix); string(data) != "a1" {
		t.Errorf("the previous executable holds %q", data)
	}
	sc := &SelfCompile{ProcessDir: dir}
	if err := sc.RollbackProcess(t.Context(), "zeta"); !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), "no previous executable") {
		t.Errorf("rollback of a plugin installed once: %v", err)
	}
	if err := sc.RollbackProcess(t.Context(), "alpha"); err != nil {
		t.Fatal(err)
	}
	got, _ = sc.ProcessPlugins()
	if data, _ := os.ReadFile(got[0].Path); string(data) != "a1" || got[0].SHA256 != first.SHA256 || got[0].Previous != second.SHA256 {
		t.Errorf("after the rollback, alpha holds %q, recorded as %s previous %s", data, got[0].SHA256, got[0].Previous)
	}
	os.WriteFile(got[0].Path+previousSuffix, []byte("tampered"), 0o755)
	if err := sc.RollbackProcess(t.Context(), "alpha"); err == nil || !strings.Contains(err.Error(), "changed since it was replaced") {
		t.Errorf("rollback to a changed previous executable: %v", err)
	}
	if err := sc.RemoveProcess(t.Context(), "alpha"); err != nil {
		t.Fatal(err)
	}
	if got, _ := sc.ProcessPlugins(); len(got) != 1 || got[0].Name != "zeta" || fsutil.Exists(filepath.Join(dir, "alpha"+exeSuffix())) || fsutil.Exists(filepath.Join(dir, "alpha"+exeSuffix()+previousSuffix)) {
		t.Errorf("after remove: %+v, and alpha's files must be gone", got)
	}
}
