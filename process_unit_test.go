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
		if got := ProcessName(path); got != want {
			t.Errorf("ProcessName(%q) = %q, want %q", path, got, want)
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
		p, err := placeContent(dir, name, content)
		if err != nil {
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
	place("alpha", "a2") // the same executable again: a1 stays the one to roll back to
	if got, _ := ReadProcessPlugins(dir); got[0].Previous != first.SHA256 || got[0].Replaced == nil || got[0].Replaced.Version != "a1" {
		t.Errorf("after the same executable again: previous %s (%+v), want a1's %s", got[0].Previous, got[0].Replaced, first.SHA256)
	}
	if data, _ := os.ReadFile(got[0].Path + previousSuffix); string(data) != "a1" {
		t.Errorf("after the same executable again, the previous executable holds %q", data)
	}
	other := &ProcessPlugin{Name: "alpha", ImportPath: "example.org/other/alpha", SHA256: "00"}
	if err := placeProcess(dir, other, filepath.Join(dir, "none")); !errors.Is(err, ErrInvalidPlugin) || !strings.Contains(err.Error(), "the process plugin alpha installed is example.com/alpha") {
		t.Errorf("another plugin of the same name: %v", err)
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
	if got[0].Version != "a1" || got[0].Replaced == nil || got[0].Replaced.Version != "a2" {
		t.Errorf("after the rollback, the manifest records version %q, replaced %+v; want a1's record, a2's as the one replaced", got[0].Version, got[0].Replaced)
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

// placeContent places a new executable holding content as the process
// plugin name in dir, as an install does once it is built.
func placeContent(dir, name, content string) (*ProcessPlugin, error) {
	tmp := filepath.Join(dir, "."+name+newInfix+"test")
	if err := os.WriteFile(tmp, []byte(content), 0o755); err != nil {
		return nil, err
	}
	sum, _ := fsutil.SHA256(tmp)
	p := &ProcessPlugin{Name: name, ImportPath: "example.com/" + name, Version: content, SHA256: sum}
	return p, placeProcess(dir, p, tmp)
}

// windowsRules makes the changes of process plugins meet Windows' rules
// for the executables a host runs, the files in running: a running
// executable can be renamed, and runs on under its new name, but it can
// be neither deleted nor replaced (ERROR_ACCESS_DENIED).
type windowsRules struct{ running map[string]bool }

var errAccessDenied = errors.New("access is denied")

func useWindowsRules(t *testing.T) *windowsRules {
	w := &windowsRules{running: map[string]bool{}}
	removeFile = func(f string) error {
		if w.running[f] {
			return &os.PathError{Op: "remove", Path: f, Err: errAccessDenied}
		}
		return os.Remove(f)
	}
	renameFile = func(from, to string) error {
		if w.running[to] {
			return &os.LinkError{Op: "rename", Old: from, New: to, Err: errAccessDenied}
		}
		if err := os.Rename(from, to); err != nil {
			return err
		}
		if w.running[from] {
			delete(w.running, from)
			w.running[to] = true
		}
		return nil
	}
	t.Cleanup(func() { removeFile, renameFile = os.Remove, os.Rename })
	return w
}

// Under Windows' rules, a host that runs a process plugin's executable
// stops none of the changes of the plugin: installs again while the
// previous executable still runs too, rollbacks, its removal (its name is free at
// once, and the manifest no longer lists it), an install after it; what
// could not be removed while it ran is removed by the next change.
func TestProcessRunningExecutable(t *testing.T) {
	rules := useWindowsRules(t)
	dir := t.TempDir()
	sc := &SelfCompile{ProcessDir: dir}
	first, err := placeContent(dir, "alpha", "a1")
	if err != nil {
		t.Fatal(err)
	}
	exe := first.Path
	rules.running[exe] = true // a host runs a1; the next install renames it alpha.previous
	for _, content := range []string{"a2", "a3"} {
		if _, err := placeContent(dir, "alpha", content); err != nil {
			t.Fatalf("installing %s while a host runs an earlier executable: %v", content, err)
		}
	}
	if data, _ := os.ReadFile(exe); string(data) != "a3" {
		t.Errorf("after the installs, %s holds %q", exe, data)
	}
	rules.running[exe] = true // a host runs a3 too
	for _, want := range []string{"a2", "a3"} {
		if err := sc.RollbackProcess(t.Context(), "alpha"); err != nil {
			t.Fatalf("a rollback while a host runs the executable: %v", err)
		}
		if data, _ := os.ReadFile(exe); string(data) != want {
			t.Errorf("after a rollback, %s holds %q, want %q", exe, data, want)
		}
	}
	if err := sc.RemoveProcess(t.Context(), "alpha"); err != nil {
		t.Fatalf("removing a plugin a host runs: %v", err)
	}
	if got, _ := sc.ProcessPlugins(); len(got) != 0 || fsutil.Exists(exe) || fsutil.Exists(exe+previousSuffix) {
		t.Errorf("after the removal: %+v; %s and its previous executable must be gone", got, exe)
	}
	if _, err := placeContent(dir, "alpha", "a4"); err != nil {
		t.Fatalf("installing while a host runs a removed executable: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".alpha*")); len(left) != 2 {
		t.Errorf("beside the plugins, %q: want the two executables that still run", left)
	}
	clear(rules.running) // the hosts ended
	if err := sc.RemoveProcess(t.Context(), "alpha"); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".alpha*")); len(left) != 0 {
		t.Errorf("after the hosts ended and a change, left beside the plugins: %q", left)
	}
}
