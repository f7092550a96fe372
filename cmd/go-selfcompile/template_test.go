package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// plugin-template writes a module that the go command builds as it is,
// never over a file, with a package name a module path's last element
// gives.
func TestPluginTemplate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "hello")
	args := []string{"--module", "github.com/you/mytool-hello/v2", "--program", "mytool", dir}
	if err := runTemplate(args, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mytoolhello.go")); err != nil {
		t.Errorf("the package file: %v", err)
	}
	cmd := exec.Command("go", "vet", "./...")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOWORK=off", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("go vet of the template: %v\n%s", err, out)
	}
	readme, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	if !strings.Contains(string(readme), "mytool plugin add ./hello") {
		t.Errorf("the README does not say how to try it:\n%s", readme)
	}
	if err := runTemplate(args, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second template into the same folder: %v, want it refused", err)
	}
}
